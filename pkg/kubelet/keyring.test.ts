// keyring.test: the node-wide credentials file is read when it appears and again when it changes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeKeyring } from './keyring.ts';

const dir = mkdtempSync(join(tmpdir(), 'keyring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('NodeKeyring', () => {
  it('has no credentials without a file, reads it when it appears and when it changes', () => {
    const path = join(dir, 'registry-auth.json');
    const k = new NodeKeyring(path);
    expect(k.auths()).toEqual({});
    writeFileSync(path, JSON.stringify({ auths: { 'r.example': { username: 'a', password: 'b' } } }));
    expect(Object.keys(k.auths())).toEqual(['r.example']);
    writeFileSync(path, JSON.stringify({ auths: { 'r.example': { username: 'a', password: 'b' }, 'mirror.local:5000': { auth: 'eDp5' } } }));
    expect(Object.keys(k.auths()).sort()).toEqual(['mirror.local:5000', 'r.example']);
    rmSync(path);
    expect(k.auths()).toEqual({});
  });
});
