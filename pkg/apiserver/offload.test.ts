// offload.test: large YAML bodies parsed on a worker thread give the same values and the same 400s as on the event loop; the pool's workers yield the CPU to the event loop and end when idle.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { OFFLOAD_YAML_BYTES, decodeBody, decodeBodyAsync } from './negotiate.ts';
import { OffloadPool, WORKER_NICE } from './offload.ts';

const pool = new OffloadPool({ size: 1, idleMs: 200 });
afterAll(() => pool.close());

const noProto = () => {
  throw new Error('no protobuf here');
};
let offloaded = 0;
const parseYaml = (text: string) => {
  offloaded++;
  return pool.run('yaml', text);
};

function bigYaml(keys: number, extra = ''): Buffer {
  let y = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n';
  for (let i = 0; i < keys; i++) y += `  k${i}: v${i}\n`;
  return Buffer.from(y + extra);
}

async function status(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof ApiError ? e.code : -1;
  }
}

describe('decodeBodyAsync', () => {
  it('parses a large YAML body on the worker, to the value decodeBody gives', async () => {
    const body = bigYaml(5000);
    expect(body.length).toBeGreaterThan(OFFLOAD_YAML_BYTES);
    const before = offloaded;
    const v = await decodeBodyAsync(body, 'application/yaml', noProto, parseYaml);
    expect(offloaded).toBe(before + 1);
    expect(v).toEqual(decodeBody(body, 'application/yaml', noProto));
  });

  it('answers a duplicate key or a syntax error from the worker with the same 400', async () => {
    const dup = bigYaml(5000, '  k7: again\n');
    const msg = (() => {
      try {
        decodeBody(dup, 'application/yaml', noProto);
      } catch (e) {
        return (e as ApiError).status.message;
      }
    })();
    await expect(decodeBodyAsync(dup, 'application/yaml', noProto, parseYaml)).rejects.toMatchObject({ status: { code: 400, message: msg } });
    expect(await status(decodeBodyAsync(bigYaml(5000, '  bad: [\n'), 'application/apply-patch+yaml', noProto, parseYaml))).toBe(400);
  });

  it('keeps small bodies, JSON and foreign media types on the caller\'s path', async () => {
    const before = offloaded;
    expect(await decodeBodyAsync(Buffer.from('a: 1\n'), 'application/yaml', noProto, parseYaml)).toEqual({ a: 1 });
    const json = Buffer.from(JSON.stringify({ data: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 'v'])) }));
    expect(await decodeBodyAsync(json, 'application/yaml', noProto, parseYaml)).toEqual(JSON.parse(json.toString()));
    expect(await status(decodeBodyAsync(bigYaml(5000), 'text/plain', noProto, parseYaml))).toBe(415);
    expect(offloaded).toBe(before);
  });

  it('reads a large body without a content type as JSON, then YAML, with JSON\'s error', async () => {
    expect(((await decodeBodyAsync(bigYaml(5000), undefined, noProto, parseYaml)) as { data: Record<string, string> }).data.k4999).toBe('v4999');
    const bad = Buffer.from('x'.repeat(OFFLOAD_YAML_BYTES) + ': [');
    await expect(decodeBodyAsync(bad, undefined, noProto, parseYaml)).rejects.toMatchObject({ status: { code: 400, message: expect.stringContaining("couldn't get version/kind; json parse error") } });
  });
});

describe('OffloadPool', () => {
  it.runIf(process.platform === 'linux')('runs its workers at a lower priority than the event loop', async () => {
    await pool.run('yaml', 'n: 1\n');
    const nice = (tid: string) => Number(readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[16]);
    const tasks = readdirSync(`/proc/${process.pid}/task`);
    expect(nice(String(process.pid))).toBe(0);
    expect(tasks.filter((t) => nice(t) === WORKER_NICE)).toHaveLength(pool.workers);
  });

  it('queues work beyond its size and ends idle workers', async () => {
    const r = await Promise.all([1, 2, 3].map((i) => pool.run('yaml', `n: ${i}\n`)));
    expect(r).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(pool.workers).toBe(1);
    await new Promise((res) => setTimeout(res, 500));
    expect(pool.workers).toBe(0);
  });
});
