// kubeconfig: render a kubectl config (one cluster, one token user, one context) and write it owner-only.
import { stringify } from 'yaml';
import { writeSecretFile } from './files.ts';

/** KubeconfigOptions: cluster defaults to `kubeling`, user to `<cluster>-admin`; the context is named after the cluster. */
export interface KubeconfigOptions {
  server: string;
  caCertPem: string;
  token: string;
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
    users: [{ name: user, user: { token: opts.token } }],
    contexts: [{ name: cluster, context }],
    'current-context': cluster,
    preferences: {},
  });
}

/** writeKubeconfig writes the YAML with mode 0600, creating parent directories. */
export function writeKubeconfig(path: string, yamlText: string): Promise<void> {
  return writeSecretFile(path, yamlText);
}
