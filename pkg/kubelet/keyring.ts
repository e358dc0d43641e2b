// keyring: the node-wide registry credentials (a Docker config.json, e.g. /etc/kubeling/registry-auth.json) the
// kubelet falls back to when a pod's imagePullSecrets have none for an image's registry, as upstream's keyring does.
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseDockerConfig, type DockerAuths } from './pullsecrets.ts';

/** NodeKeyring reads its file again whenever it changes (by mtime and size); a missing file means no credentials. */
export class NodeKeyring {
  private readonly path: string;
  private readonly log: Logger | undefined;
  private stamp = '';
  private cached: DockerAuths = {};

  constructor(path: string, log?: Logger) {
    this.path = path;
    this.log = log;
  }

  auths(): DockerAuths {
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch {
      this.stamp = '';
      this.cached = {};
      return this.cached;
    }
    if (stamp !== this.stamp) {
      this.stamp = stamp;
      try {
        this.cached = parseDockerConfig(readFileSync(this.path, 'utf8'));
        this.log?.info({ file: this.path, registries: Object.keys(this.cached).length }, 'node-wide registry credentials loaded');
      } catch (err) {
        this.cached = {};
        this.log?.warn({ err, file: this.path }, 'cannot read the node-wide registry credentials');
      }
    }
    return this.cached;
  }
}
