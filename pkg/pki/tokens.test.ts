// tokens.test: join token format/parse/verify and the persisted admin and node tokens.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCa } from './certs.ts';
import { caHashOf, ensureTokens, formatJoinToken, parseJoinToken, tokenPaths, verifyJoinToken } from './tokens.ts';

const HASH = 'ab'.repeat(32);

describe('join token format', () => {
  it('caHashOf is the sha256 hex of the PEM bytes', async () => {
    const { certPem } = await createCa('c', 1);
    expect(caHashOf(certPem)).toBe(createHash('sha256').update(Buffer.from(certPem, 'utf8')).digest('hex'));
    expect(caHashOf(certPem)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('formats and parses K10<hash>::server:<password>', () => {
    const t = formatJoinToken(HASH, 's3cret');
    expect(t).toBe(`K10${HASH}::server:s3cret`);
    expect(parseJoinToken(t)).toEqual({ caHash: HASH, username: 'server', password: 's3cret' });
  });

  it('parses K10<hash>::<password>, a bare password, and trims whitespace', () => {
    expect(parseJoinToken(`K10${HASH.toUpperCase()}::pw`)).toEqual({ caHash: HASH, password: 'pw' });
    expect(parseJoinToken('  justapassword\n')).toEqual({ password: 'justapassword' });
  });

  it('rejects malformed secure tokens', () => {
    expect(() => parseJoinToken('K10nothex::server:pw')).toThrow(/64 hex digits/);
    expect(() => parseJoinToken(`K10${HASH}::server:`)).toThrow(/no password/);
    expect(() => parseJoinToken('  ')).toThrow(/empty/);
  });

  it('verifyJoinToken compares passwords and any presented CA hash', () => {
    const server = formatJoinToken(HASH, 'pw');
    expect(verifyJoinToken(server, server)).toBe(true);
    expect(verifyJoinToken(server, 'pw')).toBe(true);
    expect(verifyJoinToken(server, 'nope')).toBe(false);
    expect(verifyJoinToken(server, formatJoinToken('cd'.repeat(32), 'pw'))).toBe(false);
    expect(verifyJoinToken(server, 'K10bad::x:pw')).toBe(false);
  });
});

describe('ensureTokens', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeling-tok-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates both tokens 0600 and keeps them across restarts', async () => {
    const { certPem } = await createCa('c', 1);
    const first = await ensureTokens(dir, certPem);
    expect(first.adminToken).toMatch(/^[0-9a-f]{48}$/);
    expect(first.nodeToken).toMatch(new RegExp(`^K10${caHashOf(certPem)}::server:[0-9a-f]{32}$`));
    const p = tokenPaths(dir);
    expect((await readFile(p.admin, 'utf8')).trim()).toBe(first.adminToken);
    expect((await readFile(p.node, 'utf8')).trim()).toBe(first.nodeToken);
    expect((await stat(p.admin)).mode & 0o777).toBe(0o600);
    expect((await stat(p.node)).mode & 0o777).toBe(0o600);
    expect(await ensureTokens(dir, certPem)).toEqual(first);
  });

  it('rewrites the node token with the same password when the CA changes', async () => {
    const a = await createCa('a', 1);
    const b = await createCa('b', 1);
    const first = await ensureTokens(dir, a.certPem);
    const second = await ensureTokens(dir, b.certPem);
    expect(second.adminToken).toBe(first.adminToken);
    expect(parseJoinToken(second.nodeToken).password).toBe(parseJoinToken(first.nodeToken).password);
    expect(parseJoinToken(second.nodeToken).caHash).toBe(caHashOf(b.certPem));
    expect((await readFile(tokenPaths(dir).node, 'utf8')).trim()).toBe(second.nodeToken);
  });
});
