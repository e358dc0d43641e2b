// quick measurement: pod startup latency (create → Running seen by watch) and agent RSS, agent in its own process.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runServer } from '/work/main/cmd/server.ts';
import { lookupKind } from '/work/main/pkg/api/resources.ts';
import { Client } from '/work/main/pkg/client/index.ts';
import { DockerRuntime } from '/work/main/pkg/kubelet/runtime/index.ts';
const pods = lookupKind('v1', 'Pod')!;
const NODE = 'measure-node';
const dir = mkdtempSync(join(tmpdir(), 'kl-measure-'));
const server = await runServer({ dataDir: dir, bindAddress: '127.0.0.1', httpsListenPort: 0, tlsSan: [], disableAgent: true, logLevel: 'warn', kubeletPort: 0 } as never);
while (!existsSync(join(dir, 'kubeconfig.yaml'))) await new Promise((r) => setTimeout(r, 20));
await new Promise((r) => setTimeout(r, 50));
const kc = parse(readFileSync(join(dir, 'kubeconfig.yaml'), 'utf8'));
const url = kc.clusters[0].cluster.server;
const caPem = readFileSync(join(dir, 'tls/ca.crt'), 'utf8');
const admin = new Client({ server: url, token: kc.users[0].user.token, caPem });
const agent = spawn('/work/main/bin/kubeling', ['agent', '--server', url, '--token', readFileSync(join(dir, 'token'), 'utf8').trim(), '--node-name', NODE, '--node-ip', '127.0.0.1', '--data-dir', join(dir, 'agent'), '--kubelet-port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
const nodes = lookupKind('v1', 'Node')!;
while (!(await admin.getOrUndefined(nodes, undefined, NODE))) await new Promise((r) => setTimeout(r, 100));
const created = new Map<string, number>();
const lat: number[] = [];
const seen = new Set<string>();
admin.watch(pods, 'default', {}, (ev) => {
  const n = ev.object.metadata.name!;
  if (ev.object.status?.phase === 'Running' && created.has(n) && !seen.has(n)) { seen.add(n); lat.push(Date.now() - created.get(n)!); }
});
const mk = async (name: string) => { created.set(name, Date.now()); await admin.create(pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: 'kubeling/busybox:test', command: ['sleep', '3600'] }] } }); };
const waitAll = async (n: number) => { while (seen.size < n) await new Promise((r) => setTimeout(r, 20)); };
const pct = (a: number[], p: number) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]; };
const rss0 = Number(execFileSync("ps", ["-o", "rss=", "-p", String(agent.pid)], { encoding: "utf8" }).trim()) / 1024; console.log("idle rss", rss0);
for (let i = 0; i < 50; i++) { await mk(`one-${i}`); await waitAll(i + 1); }
const serial = lat.splice(0);
for (let b = 0; b < 5; b++) { await Promise.all(Array.from({ length: 10 }, (_, j) => mk(`ten-${b}-${j}`))); await waitAll(50 + (b + 1) * 10); }
const batch = lat.splice(0);
const rss = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(agent.pid)], { encoding: 'utf8' }).trim()) / 1024;
// docker run -d for comparison
const dr: number[] = [];
for (let i = 0; i < 20; i++) { const t = Date.now(); execFileSync('docker', ['run', '-d', '--name', `kl-measure-${i}`, '--label', `kubeling.measure=1`, 'kubeling/busybox:test', 'sleep', '3600']); dr.push(Date.now() - t); }
console.log(JSON.stringify({ serial: { p50: pct(serial, 50), p99: pct(serial, 99) }, tenAtATime: { p50: pct(batch, 50), p99: pct(batch, 99) }, dockerRun: { p50: pct(dr, 50), p99: pct(dr, 99) }, agentRssMB: rss.toFixed(1), pods: 100 }));
execFileSync('sh', ['-c', 'docker rm -f $(docker ps -aq --filter label=kubeling.measure=1) >/dev/null']);
agent.kill('SIGTERM');
await new Promise((r) => agent.on('exit', r));
const docker = new DockerRuntime();
for (const x of await docker.listContainers({ node: NODE })) await docker.removeContainer(x.id);
await admin.close(); await server.close();
process.exit(0);
