// client: client certificates for users, signed by the cluster CA (CN = user name, O = groups), as upstream's x509 authenticator reads them.
import { readFile } from 'node:fs/promises';
import { issueCert, type CertKey } from './certs.ts';
import { tlsPaths } from './server.ts';

/** USER_CERT_DAYS: a user's client certificate lasts a year (kubeadm's default for its certificates). */
export const USER_CERT_DAYS = 365;

/** issueUserCert signs a client-only certificate for `user` in `groups` with the CA under dataDir/tls. */
export async function issueUserCert(dataDir: string, user: string, groups: string[], days = USER_CERT_DAYS): Promise<CertKey & { caCertPem: string }> {
  if (!user) throw new Error('a user name is required');
  const p = tlsPaths(dataDir);
  let ca: CertKey;
  try {
    ca = { certPem: await readFile(p.caCert, 'utf8'), keyPem: await readFile(p.caKey, 'utf8') };
  } catch (e) {
    throw new Error(`cannot read the cluster CA in ${p.caCert} / ${p.caKey} (is --data-dir the server's?): ${(e as Error).message}`);
  }
  const leaf = await issueCert(ca, { cn: user, orgs: groups, days, client: true });
  return { ...leaf, caCertPem: ca.certPem };
}
