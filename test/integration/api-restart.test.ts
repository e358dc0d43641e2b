// api-restart: durability through the API — SIGKILL mid-burst loses no acknowledged write; restarts keep PKI, tokens and watch history.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort, startServer, kubectl, type RunningServer } from '../helpers/server.ts';
import { apiClient } from '../helpers/api.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'kubeling-restart-'));
let srv: RunningServer | undefined;

afterAll(async () => {
  await srv?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

/** identityFiles reads every file of the data dir outside the database: CA, serving cert, tokens, kubeconfig. */
function identityFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const rel = relative(dataDir, p);
      if (rel === 'db' || rel === 'home') continue;
      if (statSync(p).isDirectory()) walk(p);
      else out[rel] = readFileSync(p).toString('base64');
    }
  };
  walk(dataDir);
  return out;
}

describe('restart', () => {
  let port: number;
  let identity: Record<string, string>;
  const acked = new Set<string>();

  it('keeps every acknowledged create through a SIGKILL in the middle of a 16-client burst', async () => {
    port = await freePort();
    srv = await startServer({ dataDir, port });
    identity = identityFiles();
    expect(Object.keys(identity).sort()).toEqual(expect.arrayContaining(['kubeconfig.yaml', 'token', 'tls/ca.crt', 'tls/ca.key', 'tls/serving.crt', 'tls/serving.key']));
    const api = apiClient(srv, 16);
    expect((await api.req('POST', '/api/v1/namespaces', { metadata: { name: 'burst' } })).status).toBe(201);

    let inFlight = 0;
    let maxInFlightAtKill = 0;
    let killed = false;
    let failed = 0;
    const killing = (async () => {
      while (acked.size < 400) await new Promise((r) => setTimeout(r, 2));
      maxInFlightAtKill = inFlight;
      killed = true;
      await srv!.kill();
    })();
    await Promise.all(
      Array.from({ length: 16 }, async (_, c) => {
        for (let i = 0; ; i++) {
          const name = `b-${c}-${i}`;
          inFlight++;
          try {
            const r = await api.req('POST', '/api/v1/namespaces/burst/configmaps', { metadata: { name }, data: { client: String(c), i: String(i) } });
            if (r.status === 201) acked.add(name);
            else throw new Error(`unexpected ${r.status}: ${r.text}`);
          } catch (e) {
            if (!killed) throw e;
            failed++;
            return;
          } finally {
            inFlight--;
          }
        }
      }),
    );
    await killing;
    await api.close();
    expect(acked.size).toBeGreaterThanOrEqual(400);
    expect(maxInFlightAtKill).toBeGreaterThan(0);
    expect(failed).toBe(16);

    srv = await startServer({ dataDir, port });
    const api2 = apiClient(srv);
    const list = await api2.req('GET', '/api/v1/namespaces/burst/configmaps');
    expect(list.status).toBe(200);
    // the root-ca-cert-publisher puts kube-root-ca.crt into every namespace; only the burst's configmaps count
    const items = list.body.items.filter((i: any) => i.metadata.name !== 'kube-root-ca.crt');
    const present = new Set<string>(items.map((i: any) => i.metadata.name));
    const missing = [...acked].filter((n) => !present.has(n));
    expect(missing).toEqual([]);
    // only requests that were in flight at the kill may have landed without an answer
    expect(present.size - acked.size).toBeGreaterThanOrEqual(0);
    expect(present.size - acked.size).toBeLessThanOrEqual(16);
    for (const item of items) expect(item.data.i).toBe(item.metadata.name.split('-')[2]);
    await api2.close();
  }, 60_000);

  it('keeps the CA, serving certificate, tokens and kubeconfig byte for byte; the old kubeconfig still works', () => {
    expect(identityFiles()).toEqual(identity);
    const r = kubectl(srv!.kubeconfig, ['get', 'cm', '-n', 'burst', '-o', 'name']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(acked.size);
  });

  it('keeps objects through a graceful restart, and a watch from a pre-restart resourceVersion replays what came after', async () => {
    let api = apiClient(srv!);
    const cms = '/api/v1/namespaces/default/configmaps';
    const a = await api.req('POST', cms, { metadata: { name: 'gr-a' }, data: { v: '1' } });
    expect(a.status).toBe(201);
    const from = a.body.metadata.resourceVersion;
    expect((await api.req('POST', cms, { metadata: { name: 'gr-b' } })).status).toBe(201);
    expect((await api.req('PATCH', `${cms}/gr-a`, { data: { v: '2' } }, { 'content-type': 'application/merge-patch+json' })).status).toBe(200);
    await api.close();
    await srv!.stop();
    expect(srv!.proc.exitCode).toBe(0);

    srv = await startServer({ dataDir, port });
    api = apiClient(srv);
    const got = await api.req('GET', `${cms}/gr-a`);
    expect(got.status).toBe(200);
    expect(got.body.data).toEqual({ v: '2' });
    expect(Number(got.body.metadata.resourceVersion)).toBeGreaterThan(Number(from));
    expect((await api.req('DELETE', `${cms}/gr-b`)).status).toBe(200);
    const w = await api.watch(`${cms}?watch=true&resourceVersion=${from}`);
    const evs = await w.waitFor(3);
    expect(evs.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED gr-b', 'MODIFIED gr-a', 'DELETED gr-b']);
    // and new writes keep getting higher resourceVersions
    const c = await api.req('POST', cms, { metadata: { name: 'gr-c' } });
    expect(Number(c.body.metadata.resourceVersion)).toBeGreaterThan(Number(evs[2].object.metadata.resourceVersion));
    expect((await w.waitFor(4))[3].type).toBe('ADDED');
    w.close();
    await api.close();
    expect(identityFiles()).toEqual(identity);
  }, 60_000);
});
