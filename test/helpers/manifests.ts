// manifests: the web Deployment + Service the kubectl tests apply (one definition for every test that needs it).

/** webApp is a two-document manifest: Deployment `web` (container `c`) and Service `web` selecting it. */
export function webApp(opts: { image: string; replicas?: number; namespace?: string; nodePort?: number; extra?: string }): string {
  const ns = opts.namespace ? `\n  namespace: ${opts.namespace}` : '';
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web${ns}
  labels: {app: web}
spec:
  replicas: ${opts.replicas ?? 2}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: ${opts.image}
        ports:
        - containerPort: 80
${opts.extra ?? ''}---
apiVersion: v1
kind: Service
metadata:
  name: web${ns}
spec:${opts.nodePort ? '\n  type: NodePort' : ''}
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80${opts.nodePort ? `\n    nodePort: ${opts.nodePort}` : ''}
`;
}
