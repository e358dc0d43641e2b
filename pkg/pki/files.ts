// files: small file helpers for secrets — atomic writes with owner-only modes, and tolerant reads.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/** writeFileAtomic writes `data` to a temp file beside `path` and renames it over, so readers never see half a file. */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode); // the umask may have narrowed or an old file kept its mode
  await rename(tmp, path);
}

/** writeSecretFile writes a file only its owner may read (mode 0600), creating parent dirs (0700). */
export function writeSecretFile(path: string, data: string): Promise<void> {
  return writeFileAtomic(path, data, 0o600);
}

/** readIfExists returns the file's text, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
