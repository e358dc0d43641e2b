// isolated: ensureServerPki + ensureTokens in a short-lived child process (see setup-cli.ts); imports no X.509 code.
import { execFile } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerPki } from './server.ts';

/** ensurePkiAndTokensIsolated does what ensureServerPki and ensureTokens do, in a child process that then exits. */
export function ensurePkiAndTokensIsolated(dataDir: string, sans: { dns: string[]; ips: string[] }): Promise<{ pki: ServerPki & { serviceAccountKeyPem: string }; tokens: { adminToken: string; nodeToken: string } }> {
  // .ts when run from source, .js when run from a build
  const script = fileURLToPath(new URL(`./setup-cli${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', script, dataDir, JSON.stringify(sans)], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`certificate set-up failed: ${stderr.trim() || err.message}`));
      try {
        resolve(JSON.parse(stdout));
      } catch (e) {
        reject(new Error(`certificate set-up printed no result: ${(e as Error).message}`));
      }
    });
  });
}
