// index.test: end-to-end defaulting + validation of typical manifests, fieldsOf and isSpecChange.
import { describe, expect, it } from 'vitest';
import { fieldErrorText } from '../errors.ts';
import { lookupKind } from '../resources.ts';
import type { KubeObject } from '../types.ts';
import { applyDefaults, fieldsOf, isSpecChange, validate } from './index.ts';

const info = (apiVersion: string, kind: string) => lookupKind(apiVersion, kind)!;
const POD = info('v1', 'Pod');
const DEPLOY = info('apps/v1', 'Deployment');

/** kubectlRunPod is the body `kubectl run web --image=nginx` posts (namespace filled in from the URL). */
function kubectlRunPod(): KubeObject {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1', creationTimestamp: null, labels: { run: 'web' } },
    spec: { containers: [{ name: 'web', image: 'nginx', resources: {} }], restartPolicy: 'Always', dnsPolicy: 'ClusterFirst' },
    status: {},
  };
}

function typicalDeployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1.25',
              ports: [{ containerPort: 80, name: 'http' }],
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '0.5', memory: '256Mi' } },
              readinessProbe: { httpGet: { path: '/', port: 'http' } },
              livenessProbe: { tcpSocket: { port: 80 }, initialDelaySeconds: 5 },
              volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }, { name: 'cache', mountPath: '/cache' }],
            },
          ],
          volumes: [{ name: 'cfg', configMap: { name: 'web-config' } }, { name: 'cache' }],
        },
      },
    },
  };
}

describe('kubectl run pod', () => {
  it('defaults like upstream and validates cleanly', () => {
    const pod = kubectlRunPod();
    applyDefaults(POD, pod);
    expect(validate(POD, pod)).toEqual([]);
    expect(pod.spec).toEqual({
      containers: [
        { name: 'web', image: 'nginx', resources: {}, imagePullPolicy: 'Always', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' },
      ],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      securityContext: {},
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      serviceAccountName: 'default',
      serviceAccount: 'default',
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
    });
    expect(pod.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
  });

  it('is idempotent', () => {
    const pod = kubectlRunPod();
    applyDefaults(POD, pod);
    const once = structuredClone(pod);
    applyDefaults(POD, pod);
    expect(pod).toEqual(once);
  });
});

describe('typical deployment', () => {
  it('defaults like upstream and validates cleanly', () => {
    const d = typicalDeployment();
    applyDefaults(DEPLOY, d);
    expect(validate(DEPLOY, d)).toEqual([]);
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    expect(d.spec.revisionHistoryLimit).toBe(10);
    expect(d.spec.progressDeadlineSeconds).toBe(600);
    expect(d.spec.minReadySeconds).toBeUndefined();
    const c = d.spec.template.spec.containers[0];
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.ports[0].protocol).toBe('TCP');
    expect(c.resources.limits.cpu).toBe('500m');
    expect(c.readinessProbe).toEqual({ httpGet: { path: '/', port: 'http', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(c.env[0].valueFrom.fieldRef.apiVersion).toBe('v1');
    expect(d.spec.template.spec.volumes).toEqual([
      { name: 'cfg', configMap: { name: 'web-config', defaultMode: 420 } },
      { name: 'cache', emptyDir: {} },
    ]);
    // templates get PodSpec defaults but not what only Pods get
    expect(d.spec.template.spec.restartPolicy).toBe('Always');
    expect(d.spec.template.spec.enableServiceLinks).toBeUndefined();
    expect(d.spec.template.spec.tolerations).toBeUndefined();
  });

  it('reports a selector that does not match the template like upstream', () => {
    const d = typicalDeployment();
    d.spec.selector = { matchLabels: { app: 'other' } };
    applyDefaults(DEPLOY, d);
    expect(validate(DEPLOY, d).map(fieldErrorText)).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]);
  });
});

describe('fieldsOf', () => {
  it('gives pods their selectable fields, "" when missing', () => {
    const pod = kubectlRunPod();
    applyDefaults(POD, pod);
    expect(fieldsOf(POD, pod)).toEqual({
      'metadata.name': 'web',
      'metadata.namespace': 'default',
      'spec.nodeName': '',
      'spec.restartPolicy': 'Always',
      'spec.schedulerName': 'default-scheduler',
      'spec.serviceAccountName': 'default',
      'spec.hostNetwork': 'false',
      'status.phase': 'Pending',
      'status.podIP': '',
      'status.nominatedNodeName': '',
    });
    pod.spec.nodeName = 'n1';
    pod.status.podIPs = [{ ip: '10.42.0.5' }];
    expect(fieldsOf(POD, pod)['spec.nodeName']).toBe('n1');
    expect(fieldsOf(POD, pod)['status.podIP']).toBe('10.42.0.5');
  });

  it('covers events, secrets, namespaces, nodes, replicasets, rcs and jobs', () => {
    const ev: KubeObject = {
      metadata: { name: 'web.1', namespace: 'default' },
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'web', uid: 'u', apiVersion: 'v1', resourceVersion: '5', fieldPath: 'spec.containers{web}' },
      reason: 'Pulled',
      source: { component: 'kubelet' },
      type: 'Normal',
    };
    expect(fieldsOf(info('v1', 'Event'), ev)).toEqual({
      'metadata.name': 'web.1',
      'metadata.namespace': 'default',
      'involvedObject.kind': 'Pod',
      'involvedObject.namespace': 'default',
      'involvedObject.name': 'web',
      'involvedObject.uid': 'u',
      'involvedObject.apiVersion': 'v1',
      'involvedObject.resourceVersion': '5',
      'involvedObject.fieldPath': 'spec.containers{web}',
      reason: 'Pulled',
      reportingComponent: '',
      source: 'kubelet',
      type: 'Normal',
    });
    expect(fieldsOf(info('v1', 'Secret'), { metadata: { name: 's', namespace: 'd' }, type: 'Opaque' }).type).toBe('Opaque');
    expect(fieldsOf(info('v1', 'Namespace'), { metadata: { name: 'd' }, status: { phase: 'Active' } })).toEqual({ 'metadata.name': 'd', 'status.phase': 'Active', name: 'd' });
    expect(fieldsOf(info('v1', 'Node'), { metadata: { name: 'n' }, spec: { unschedulable: true } })).toEqual({ 'metadata.name': 'n', 'spec.unschedulable': 'true' });
    expect(fieldsOf(info('v1', 'Node'), { metadata: { name: 'n' } })['spec.unschedulable']).toBe('false');
    expect(fieldsOf(info('apps/v1', 'ReplicaSet'), { metadata: { name: 'r', namespace: 'd' }, status: { replicas: 2 } })['status.replicas']).toBe('2');
    expect(fieldsOf(info('v1', 'ReplicationController'), { metadata: { name: 'r', namespace: 'd' } })['status.replicas']).toBe('0');
    expect(fieldsOf(info('batch/v1', 'Job'), { metadata: { name: 'j', namespace: 'd' }, status: { succeeded: 1 } })['status.successful']).toBe('1');
    expect(fieldsOf(info('v1', 'ConfigMap'), { metadata: { name: 'c', namespace: 'd' } })).toEqual({ 'metadata.name': 'c', 'metadata.namespace': 'd' });
  });
});

describe('isSpecChange', () => {
  it('is true only for changes outside metadata and status', () => {
    const a = typicalDeployment();
    applyDefaults(DEPLOY, a);
    const b = structuredClone(a);
    b.metadata.labels = { changed: 'yes' };
    b.status = { replicas: 3 };
    expect(isSpecChange(DEPLOY, a, b)).toBe(false);
    b.spec.replicas = 5;
    expect(isSpecChange(DEPLOY, a, b)).toBe(true);
  });
  it('is false for kinds without a status subresource', () => {
    const cm = info('v1', 'ConfigMap');
    expect(isSpecChange(cm, { metadata: {}, data: { a: '1' } }, { metadata: {}, data: { a: '2' } })).toBe(false);
  });
});
