// setup-cli: a child-process entry that creates/reuses the server's certificates and tokens and prints them as
// JSON, so the X.509 libraries never stay in the long-running server's memory (~30 MB resident once loaded).
import { ensureServerPki } from './server.ts';
import { ensureTokens } from './tokens.ts';
import { ensureServiceAccountKey } from './serviceaccount.ts';

const [dataDir, sansJson] = process.argv.slice(2);
const pki = await ensureServerPki(dataDir, { sans: JSON.parse(sansJson) });
const tokens = await ensureTokens(dataDir, pki.caCertPem);
const serviceAccountKeyPem = await ensureServiceAccountKey(dataDir);
process.stdout.write(JSON.stringify({ pki: { ...pki, serviceAccountKeyPem }, tokens }));
