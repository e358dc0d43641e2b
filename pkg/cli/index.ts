// cli: what the `kubeling` commands share — the local cluster in a data dir, the quick start's example and its
// verdict, preflight sentences, status rendering, kubeconfig rewriting.
export * from './cluster.ts';
export * from './examples.ts';
export * from './kubeconfig.ts';
export * from './preflight.ts';
export * from './status.ts';
export * from './verdict.ts';
