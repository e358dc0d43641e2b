// flow-1: the multi-client tutorial with kubectl 1.32 — client-pod.yaml and client-node-port.yaml applied, the page
// on NodePort 31515 of every host, rendered by headless Chromium (DOM checked, screenshot saved), `describe pod`
// events, the image updated by apply, and a port change rejected with upstream's Forbidden message.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from './hosts.ts';
import { APP_TITLE, appUrls, example, flowCluster, flowTimer, ok, podsOf, withImage, writeManifest, type FlowCluster } from './flow/cluster.ts';

const NODE_PORT = 31515;

/** chromium finds the browser, or fails saying what to install (never skips). */
export function chromium(): string {
  for (const b of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  throw new Error('flow 1 renders the page in headless Chromium: apt-get install -y chromium');
}

/** headless runs Chromium headless on a URL with extra flags and returns its stdout. */
function headless(bin: string, profile: string, url: string, flags: string[]): string {
  const r = spawnSync(bin, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    `--user-data-dir=${profile}`, '--virtual-time-budget=3000', ...flags, url], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`chromium ${flags.join(' ')} ${url} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

describe('flow 1: the multi-client pod and its NodePort (kubectl 1.32)', () => {
  let f: FlowCluster;
  const timer = flowTimer('flow 1 (multi-client)');
  let podFile: string;

  beforeAll(async () => {
    f = await flowCluster();
    timer.start();
  });
  afterAll(() => timer.done());

  const pod = async () => (await podsOf(f.c, 'component=web')).find((p) => p.metadata?.name === 'client-pod');
  const servedVersion = async (want: string) => {
    for (const url of appUrls(f.c, NODE_PORT)) {
      const r = await httpGet(url, 3000).catch(() => undefined);
      if (r?.status !== 200 || r.body.trim() !== want) return false;
    }
    return true;
  };

  it('applies client-pod.yaml and client-node-port.yaml; the page answers on port 31515 of every host', async () => {
    podFile = writeManifest(f, 'client-pod.yaml', withImage(example('client-pod.yaml'), f.image('latest')));
    const svcFile = writeManifest(f, 'client-node-port.yaml', example('client-node-port.yaml'));
    expect(ok(f.c.kubectl('apply', '-f', podFile))).toContain('pod/client-pod created');
    expect(ok(f.c.kubectl('apply', '-f', svcFile))).toContain('service/client-node-port created');
    await f.c.waitFor('client-pod Running', async () => (await pod())?.status?.phase === 'Running', 90_000);
    const svc = ok(f.c.kubectl('get', 'service', 'client-node-port'));
    expect(svc).toMatch(/client-node-port\s+NodePort\s+\S+\s+<none>\s+3050:31515\/TCP/);
    await f.c.waitFor('v1 on 31515 of every host', () => servedVersion('v1'), 30_000);
    for (const h of f.c.hosts) {
      const r = await httpGet(`http://${h.ip}:${NODE_PORT}/`);
      expect(r.status, h.name).toBe(200);
      expect(r.body).toContain('<script src="app.js">');
    }
  });

  it('renders the page in headless Chromium (DOM checked) and saves a screenshot', () => {
    const bin = chromium();
    const url = `http://${f.c.hosts[1]!.ip}:${NODE_PORT}/`;
    // the profile lives in the run's directory, removed with it
    const profile = join(f.c.dir, 'chromium');
    const dom = headless(bin, profile, url, ['--dump-dom']);
    // the heading exists only after the page's script ran
    expect(dom).toContain(`<h1 id="title">${APP_TITLE}</h1>`);
    expect(dom).toContain('<p id="version">v1</p>');
    expect(dom).toContain('Enter your index:');
    const shot = join(f.artifacts, 'flow-1-multi-client.png');
    headless(bin, profile, url, [`--screenshot=${shot}`, '--window-size=800,600', '--hide-scrollbars']);
    expect(existsSync(shot) && statSync(shot).size > 1000, `screenshot ${shot}`).toBe(true);
    console.log(`e2e flow 1: screenshot of ${url} saved to ${shot}`);
  });

  it('describes the pod with its events', () => {
    const out = ok(f.c.kubectl('describe', 'pod', 'client-pod'));
    expect(out).toMatch(/^Name:\s+client-pod$/m);
    expect(out).toMatch(/^Node:\s+host-\d\//m);
    expect(out).toMatch(/^Events:/m);
    expect(out).toMatch(/Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned default\/client-pod to host-\d/);
    expect(out).toMatch(/Normal\s+Pulled?(ing)?\s/);
    expect(out).toMatch(/Normal\s+Started\s/);
  });

  it('updates the pod\'s image by apply: the container restarts on the new image', async () => {
    const before = (await pod())!;
    ok(f.c.kubectl('apply', '-f', writeManifest(f, 'client-pod.yaml', withImage(example('client-pod.yaml'), f.image('v2')))));
    await f.c.waitFor('client-pod running v2', async () => {
      const p = await pod();
      const st = p?.status?.containerStatuses?.[0];
      return st?.image === f.image('v2') && st.containerID !== before.status?.containerStatuses?.[0]?.containerID && !!st.state?.running;
    }, 45_000).catch(async (e: Error) => {
      // upstream's kubelet restarts a container whose spec (hash) changed: "Container client definition changed"
      const st = (await pod())?.status?.containerStatuses?.[0];
      throw new Error(`${e.message}: the kubelet kept the old container (containerID ${st?.containerID}, restartCount ${st?.restartCount}) after the image changed in the spec`);
    });
    const after = (await pod()) as Pod;
    expect(after.metadata!.uid).toBe(before.metadata!.uid);
    expect(after.status!.containerStatuses![0]!.restartCount).toBe(1);
    await f.c.waitFor('v2 on 31515 of every host', () => servedVersion('v2'), 30_000);
  });

  it('rejects a change of the pod\'s port with upstream\'s Forbidden message', () => {
    const changed = withImage(example('client-pod.yaml'), f.image('v2')).replace(/containerPort:\s*3000/, 'containerPort: 9999');
    const r = f.c.kubectl('apply', '-f', writeManifest(f, 'client-pod-port.yaml', changed));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('The Pod "client-pod" is invalid: spec: Forbidden: pod updates may not change fields other than');
    expect(r.stderr).toContain('`spec.containers[*].image`');
  });
});
