// server.test: log query parsing and the bearer check of the agent endpoint.
import { describe, expect, it } from 'vitest';
import { bearerOk, parseLogQuery } from './server.ts';

describe('parseLogQuery', () => {
  it('reads kubectl log options', () => {
    const q = new URLSearchParams('follow=true&previous=1&timestamps=true&tailLines=5&sinceSeconds=10&limitBytes=100');
    expect(parseLogQuery(q, 100_000)).toEqual({ follow: true, previous: true, timestamps: true, tail: 5, since: 90, limitBytes: 100 });
    expect(parseLogQuery(new URLSearchParams(''))).toEqual({ follow: false, previous: false, timestamps: false });
    expect(parseLogQuery(new URLSearchParams('sinceTime=1970-01-01T00:01:40Z')).since).toBe(100);
  });
});

describe('bearerOk', () => {
  const token = `K10${'a'.repeat(64)}::server:pw123`;
  it.each([
    ['Bearer pw123', true],
    [`Bearer ${token}`, true],
    ['Bearer wrong', false],
    ['Basic pw123', false],
    [undefined, false],
  ])('%s → %s', (h, ok) => expect(bearerOk(h, token)).toBe(ok));
});
