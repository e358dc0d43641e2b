// hollow: bench-only hollow nodes (upstream kubemark) — N real kubelets (NodeRegistrar + Kubelet) in one process over the
// in-memory FakeRuntime, sharing one API client. Never used by tests of the real agent.
//
// Each hollow node runs the agent's own code path — registration, one lease write every 10 s, a status check every
// 10 s (posted when changed, else every 5 min), a pod watch on spec.nodeName, pod workers, syncPod, status writes, events — only the container runtime pretends, and the
// kubelet's HTTPS endpoint (logs/exec) is not started (a per-node serving certificate and listener would cost more
// than the rest). Lease renewals are staggered over the 10 s period so 500 nodes do not renew in one burst.
//
// As a script: `node bench/hollow.ts --server URL --token-file F --ca-file F --count N [--first I] [--prefix hollow]`
// prints `ready <count> <ms>` on stdout once every node is registered and keeps running until SIGTERM/SIGINT.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { ResourceInfo } from '../pkg/api/resources.ts';
import type { WatchEvent } from '../pkg/api/types.ts';
import { EventRecorder } from '../pkg/client/events.ts';
import { Client, type ClientOptions, type WatchHandle, type WatchQuery } from '../pkg/client/index.ts';
import { LEASE_RENEW_MS, NodeRegistrar } from '../pkg/kubelet/node.ts';
import { FakeRuntime } from '../pkg/kubelet/runtime/fake.ts';
import { Kubelet } from '../pkg/kubelet/sync.ts';
import { createLogger } from '../pkg/util/log.ts';

/** HollowClient sends every request over one small connection pool and holds all nodes' watches on a second one. */
class HollowClient extends Client {
  private readonly watches: Client;

  constructor(o: ClientOptions, watchers: number) {
    super({ ...o, maxSockets: 32 });
    this.watches = new Client({ ...o, maxSockets: watchers + 16 });
  }

  override watch(info: ResourceInfo, namespace: string | undefined, query: WatchQuery, onEvent: (ev: WatchEvent) => void): WatchHandle {
    return this.watches.watch(info, namespace, query, onEvent);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.watches.close();
  }
}

export interface HollowOptions {
  server: string;
  token: string;
  caPem: string;
  count: number;
  /** first is the index of the first node (names `<prefix>-<index>`), so several processes can add nodes */
  first?: number;
  prefix?: string;
  /** how many nodes register at once */
  concurrency?: number;
  log: Logger;
}

export interface HollowNodes {
  names: string[];
  close(): Promise<void>;
}

/** startHollowNodes registers `count` hollow nodes and starts their kubelets; resolves once all are registered. */
export async function startHollowNodes(o: HollowOptions): Promise<HollowNodes> {
  const first = o.first ?? 0;
  const prefix = o.prefix ?? 'hollow';
  const client = new HollowClient({ server: o.server, token: o.token, caPem: o.caPem, userAgent: 'kubeling-agent/hollow' }, o.count);
  // bench/control.ts knows this name (it removes the directory of a process it had to kill)
  const dataRoot = join(tmpdir(), `kubeling-hollow-${process.pid}-${first}`);
  const nodes: { registrar: NodeRegistrar; kubelet: Kubelet; events: EventRecorder }[] = [];
  const names: string[] = [];

  const one = async (i: number): Promise<void> => {
    const name = `${prefix}-${i}`;
    // a distinct, never-bound address per node (the kubelet endpoint is not served) and pod IPs from a per-node /24
    const nodeIp = `10.${250 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
    const runtime = new FakeRuntime({ ipPrefix: `10.${100 + Math.floor(i / 256)}.${i % 256}`, info: { hostname: name } });
    const log = o.log.child({ node: name });
    const events = new EventRecorder(client, { component: 'kubelet', host: name }, log);
    const registrar = new NodeRegistrar(client, runtime, { nodeName: name, nodeIp, hostname: name, kubeletPort: 10250, labels: { 'kubeling.io/hollow': 'true' } }, log);
    await registrar.register();
    const dataDir = join(dataRoot, name);
    mkdirSync(dataDir, { recursive: true });
    const kubelet = new Kubelet({ client, runtime, events, nodeName: name, nodeIp, dataDir, log, allocatable: () => registrar.allocatable() });
    await kubelet.start();
    const entry: (typeof nodes)[number] = { registrar, kubelet, events };
    // stagger: each node's 10 s lease and status cycles start at a random point of the period
    registrar.start(Math.random() * LEASE_RENEW_MS);
    nodes.push(entry);
    names.push(name);
  };

  const concurrency = o.concurrency ?? 20;
  let next = first;
  const end = first + o.count;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, o.count) }, async () => {
      while (next < end) await one(next++);
    }),
  );

  return {
    names,
    async close() {
      for (const n of nodes) n.registrar.stop();
      await Promise.all(nodes.map((n) => n.kubelet.stop()));
      await Promise.all(nodes.map((n) => n.events.flush(500).catch(() => undefined)));
      await client.close();
      rmSync(dataRoot, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' },
      'token-file': { type: 'string' },
      'ca-file': { type: 'string' },
      count: { type: 'string', default: '100' },
      first: { type: 'string', default: '0' },
      prefix: { type: 'string', default: 'hollow' },
    },
  });
  const log = createLogger({ level: 'error', name: 'kubeling-hollow' });
  const t0 = Date.now();
  const hollow = await startHollowNodes({
    server: values.server!,
    token: readFileSync(values['token-file']!, 'utf8').trim(),
    caPem: readFileSync(values['ca-file']!, 'utf8'),
    count: Number(values.count),
    first: Number(values.first),
    prefix: values.prefix,
    log,
  });
  process.stdout.write(`ready ${hollow.names.length} ${Date.now() - t0}\n`);
  let closing = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      if (closing) return;
      closing = true;
      void hollow.close().finally(() => process.exit(0));
    });
  }
}

if (import.meta.main) await main();
