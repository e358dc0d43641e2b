// kubeconfig: render a kubectl config (one cluster, one user with a token or a client certificate, one context) and write it owner-only.
import { stringify } from 'yaml';
import { writeSecretFile } from './files.ts';

/** KubeconfigOptions: cluster defaults to `kubeling`, user to `<cluster>-admin`; the context is named after the cluster. */
export interface KubeconfigOptions {
  server: string;
  caCertPem: string;
  /** a bearer token, or else clientCertPem + clientKeyPem */
  token?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
}

/** kubeconfigYaml renders a v1 Config whose cluster embeds the CA (certificate-authority-data) and whose user has a bearer token. */
export function kubeconfigYaml(opts: KubeconfigOptions): string {
  const cluster = opts.cluster ?? 'kubeling';
  const user = opts.user ?? `${cluster}-admin`;
  const context: Record<string, string> = { cluster, user };
  if (opts.namespace) context.namespace = opts.namespace;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { server: opts.server, 'certificate-authority-data': Buffer.from(opts.caCertPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: userEntry(opts) }],
    contexts: [{ name: cluster, context }],
    'current-context': cluster,
    preferences: {},
  });
}

function userEntry(opts: KubeconfigOptions): Record<string, string> {
  if (opts.clientCertPem && opts.clientKeyPem) {
    return { 'client-certificate-data': Buffer.from(opts.clientCertPem).toString('base64'), 'client-key-data': Buffer.from(opts.clientKeyPem).toString('base64') };
  }
  return { token: opts.token ?? '' };
}

/** writeKubeconfig writes the YAML with mode 0600, creating parent directories. */
export function writeKubeconfig(path: string, yamlText: string): Promise<void> {
  return writeSecretFile(path, yamlText);
}
