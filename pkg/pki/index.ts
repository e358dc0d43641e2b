// pki: the public entry for certificates, join/admin tokens, CA pinning and kubeconfig files.
export { issueCert, splitSans } from './certs.ts';
export type { CertKey, IssueOptions, Sans } from './certs.ts';
export { DEFAULT_SANS, ensureServerPki, tlsPaths } from './server.ts';
export type { ServerPki } from './server.ts';
export { ensureServiceAccountKey, serviceAccountKeyPath } from './serviceaccount.ts';
export { caHashOf, ensureTokens, formatJoinToken, parseJoinToken, tokenPaths, verifyJoinToken } from './tokens.ts';
export type { JoinToken } from './tokens.ts';
export { fetchAndPinCa } from './pin.ts';
export { kubeconfigYaml, writeKubeconfig } from './kubeconfig.ts';
export type { KubeconfigOptions } from './kubeconfig.ts';
