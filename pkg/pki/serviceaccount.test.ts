// serviceaccount.test: the service-account signing key is made once (0600) and reused; a broken file is refused.
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureServiceAccountKey, serviceAccountKeyPath } from './serviceaccount.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kubeling-sakey-'));
  dirs.push(d);
  return d;
};

describe('ensureServiceAccountKey', () => {
  it('creates an EC P-256 key once with mode 0600 and returns the same key later', async () => {
    const d = tmp();
    const a = await ensureServiceAccountKey(d);
    const k = createPrivateKey(a);
    expect(k.asymmetricKeyType).toBe('ec');
    expect(k.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(statSync(serviceAccountKeyPath(d)).mode & 0o777).toBe(0o600);
    expect(await ensureServiceAccountKey(d)).toBe(a);
  });
  it('refuses a file that is not a key', async () => {
    const d = tmp();
    mkdirSync(join(d, 'tls'), { recursive: true });
    writeFileSync(serviceAccountKeyPath(d), 'garbage');
    await expect(ensureServiceAccountKey(d)).rejects.toThrow(/is not a private key/);
  });
});
