// serviceaccount: the key service-account tokens are signed with — DATA/tls/service.key, made once and kept.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { readIfExists, writeSecretFile } from './files.ts';

/** serviceAccountKeyPath is DATA/tls/service.key (k3s's name for upstream's --service-account-signing-key-file). */
export function serviceAccountKeyPath(dataDir: string): string {
  return join(dataDir, 'tls', 'service.key');
}

/**
 * ensureServiceAccountKey loads or creates the signing key: EC P-256 (tokens are ES256), PKCS#8 PEM, mode 0600, kept
 * across restarts so issued tokens stay valid. A file there that is not a private key is an error, never replaced.
 */
export async function ensureServiceAccountKey(dataDir: string): Promise<string> {
  const path = serviceAccountKeyPath(dataDir);
  const have = await readIfExists(path);
  if (have !== undefined) {
    try {
      createPrivateKey(have);
    } catch (e) {
      throw new Error(`${path} is not a private key: ${(e as Error).message}`);
    }
    return have;
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await writeSecretFile(path, pem);
  return pem;
}
