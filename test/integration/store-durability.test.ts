// store-durability: a store writer killed with SIGKILL mid-burst loses no write it acknowledged.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { openSqliteStore } from '../../pkg/store/index.ts';

const writer = fileURLToPath(new URL('./fixtures/store-writer.ts', import.meta.url));
let dir: string | undefined;

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** runUntilKilled starts the writer and SIGKILLs it once `threshold` acknowledgements arrived; resolves the names read. */
function runUntilKilled(dbPath: string, threshold: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dbPath, '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: string[] = [];
    let partial = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (killed) return; // anything after the kill decision is not counted
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      acked.push(...lines);
      if (acked.length >= threshold) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`writer exited on its own (code ${code}): ${stderr}`));
    });
  });
}

it('every acknowledged create survives SIGKILL of the writer', async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubeling-durability-'));
  const dbPath = join(dir, 'state.db');
  const acked = await runUntilKilled(dbPath, 5000);
  expect(acked.length).toBeGreaterThanOrEqual(5000);

  const store = openSqliteStore(dbPath, { compactIntervalMs: 0 });
  try {
    const stored = new Set((await store.list('pods')).items.map((t) => (JSON.parse(t) as { metadata: { name: string } }).metadata.name));
    const lost = acked.filter((n) => !stored.has(n));
    console.log(`acknowledged ${acked.length}, stored after SIGKILL ${stored.size}, lost ${lost.length}`);
    expect(lost).toEqual([]);
    expect(store.revision()).toBe(stored.size); // every create that committed, acknowledged or not yet
    // the reopened store keeps counting from where the killed one stopped
    const next = await store.create('pods', { metadata: { name: 'after-restart', namespace: 'default' } });
    expect(next.metadata.resourceVersion).toBe(String(stored.size + 1));
  } finally {
    await store.close();
  }
});
