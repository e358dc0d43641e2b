// tokens: the admin bearer token and the k3s-format node join token (K10<CA hash>::server:<password>), kept on disk.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { readIfExists, writeSecretFile } from './files.ts';

/** JoinToken is a parsed join token: the CA hash when the token is in the secure (K10) form, and the password. */
export interface JoinToken {
  caHash?: string;
  username?: string;
  password: string;
}

const PREFIX = 'K10';

/**
 * caHashOf is the CA hash a K10 token carries: the SHA-256 hex of the CA certificate's PEM bytes exactly as stored
 * in DATA/tls/ca.crt and served at /cacerts (k3s hashes the PEM of its self-signed CA the same way).
 */
export function caHashOf(caCertPem: string): string {
  return createHash('sha256').update(caCertPem).digest('hex');
}

/** formatJoinToken builds `K10<caHash>::server:<password>`. */
export function formatJoinToken(caHash: string, password: string): string {
  return `${PREFIX}${caHash}::server:${password}`;
}

/**
 * parseJoinToken reads `K10<sha256 hex>::<user>:<password>` (user optional: `K10<hash>::<password>`) or a bare
 * password. Throws on a malformed secure token or an empty password.
 */
export function parseJoinToken(token: string): JoinToken {
  const t = token.trim();
  if (!t.startsWith(PREFIX) || !t.includes('::')) {
    if (!t) throw new Error('empty join token');
    return { password: t };
  }
  const sep = t.indexOf('::');
  const caHash = t.slice(PREFIX.length, sep).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(caHash)) throw new Error('malformed join token: the CA hash after K10 must be 64 hex digits');
  const creds = t.slice(sep + 2);
  const colon = creds.indexOf(':');
  const username = colon >= 0 ? creds.slice(0, colon) : undefined;
  const password = colon >= 0 ? creds.slice(colon + 1) : creds;
  if (!password) throw new Error('malformed join token: no password after "::"');
  return username === undefined ? { caHash, password } : { caHash, username, password };
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * verifyJoinToken checks a token an agent presents against the server's node token: the passwords must match and,
 * when the presented token names a CA hash, it must be this server's. Malformed tokens are simply not valid.
 */
export function verifyJoinToken(serverToken: string, presented: string): boolean {
  try {
    const want = parseJoinToken(serverToken);
    const got = parseJoinToken(presented);
    if (got.caHash !== undefined && want.caHash !== undefined && got.caHash !== want.caHash) return false;
    return sameSecret(want.password, got.password);
  } catch {
    return false;
  }
}

/** tokenPaths names the token files under a data dir. */
export function tokenPaths(dataDir: string): { admin: string; node: string } {
  return { admin: join(dataDir, 'cred', 'admin.token'), node: join(dataDir, 'token') };
}

/**
 * ensureTokens loads or creates DATA/cred/admin.token (a random bearer token) and DATA/token (the node join token
 * `K10<caHashOf(ca)>::server:<password>`), both 0600 and kept across restarts. If the CA changed, the join token is
 * rewritten with the new hash and the same password.
 */
export async function ensureTokens(dataDir: string, caCertPem: string): Promise<{ adminToken: string; nodeToken: string }> {
  const p = tokenPaths(dataDir);
  let adminToken = (await readIfExists(p.admin))?.trim();
  if (!adminToken) {
    adminToken = randomBytes(24).toString('hex');
    await writeSecretFile(p.admin, adminToken + '\n');
  }
  const stored = (await readIfExists(p.node))?.trim();
  const password = stored ? parseJoinToken(stored).password : randomBytes(16).toString('hex');
  const nodeToken = formatJoinToken(caHashOf(caCertPem), password);
  if (stored !== nodeToken) await writeSecretFile(p.node, nodeToken + '\n');
  return { adminToken, nodeToken };
}
