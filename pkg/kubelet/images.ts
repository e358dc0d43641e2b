// images: makes a container's image present per imagePullPolicy, with pull secrets, events and pull back-off.
import type { Logger } from 'pino';
import type { KubeObject } from '../api/types.ts';
import { Backoff } from './backoff.ts';
import type { NodeKeyring } from './keyring.ts';
import { authFor, pullPolicy } from './pullsecrets.ts';
import type { ContainerRuntime, PullProgress } from './runtime/index.ts';
import type { Waiting } from './status.ts';

/** ImageEvent records one pod event for a container (Pulling, Pulled, Failed, BackOff…). */
export type ImageEvent = (pod: KubeObject, container: string, type: 'Normal' | 'Warning', reason: string, message: string) => void;

/** ImageManager pulls images for containers; failures back off per pod and image (10 s doubling to 5 min). */
export class ImageManager {
  private readonly runtime: ContainerRuntime;
  private readonly event: ImageEvent;
  private readonly log: Logger;
  readonly backoff = new Backoff();
  private readonly inflight = new Map<string, Promise<void>>();

  private readonly keyring: NodeKeyring | undefined;

  constructor(runtime: ContainerRuntime, event: ImageEvent, log: Logger, keyring?: NodeKeyring) {
    this.runtime = runtime;
    this.event = event;
    this.log = log;
    this.keyring = keyring;
  }

  /**
   * ensureImage returns undefined once the image is present, or the waiting reason to report (ErrImagePull,
   * ImagePullBackOff, ErrImageNeverPull) and, for back-off, how long until the next try.
   */
  async ensureImage(pod: KubeObject, container: any, pullSecrets: KubeObject[]): Promise<(Waiting & { retryMs?: number }) | undefined> {
    const image: string = container.image;
    const policy = pullPolicy(container);
    const present = await this.runtime.imageExists(image);
    if (policy === 'Never' || (policy === 'IfNotPresent' && present)) {
      if (present) {
        this.event(pod, container.name, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return undefined;
      }
      const message = `Container image "${image}" is not present with pull policy of Never`;
      this.event(pod, container.name, 'Warning', 'ErrImageNeverPull', message);
      return { reason: 'ErrImageNeverPull', message, retryMs: 10_000 };
    }
    const key = `${pod.metadata.uid}_${image}`;
    const now = Date.now();
    if (this.backoff.inBackOffSinceUpdate(key, now)) {
      const message = `Back-off pulling image "${image}"`;
      this.event(pod, container.name, 'Normal', 'BackOff', message);
      return { reason: 'ImagePullBackOff', message, retryMs: this.backoff.remainingSinceUpdate(key, now) };
    }
    this.event(pod, container.name, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const started = Date.now();
    const sizes = new Map<string, number>();
    try {
      await this.pull(image, authFor(image, pullSecrets, this.keyring?.auths()), (p) => {
        if (p.id && p.total) sizes.set(p.id, p.total);
      });
    } catch (err) {
      const msg = (err as Error).message.replace(/^failed to pull image "[^"]*": /, '');
      this.event(pod, container.name, 'Warning', 'Failed', `Failed to pull image "${image}": ${msg}`);
      this.event(pod, container.name, 'Warning', 'Failed', 'Error: ErrImagePull');
      this.backoff.next(key, Date.now(), Date.now());
      return { reason: 'ErrImagePull', message: `failed to pull and unpack image "${image}": ${msg}`, retryMs: 1000 };
    }
    this.backoff.reset(key);
    const secs = ((Date.now() - started) / 1000).toFixed(3).replace(/\.?0+$/, '');
    const size = [...sizes.values()].reduce((a, b) => a + b, 0);
    this.event(pod, container.name, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${secs}s (${secs}s including waiting).${size ? ` Image size: ${size} bytes.` : ''}`);
    return undefined;
  }

  /** pull shares one pull per image and credentials among concurrent callers, logging progress now and then. */
  private pull(image: string, auth: ReturnType<typeof authFor>, onProgress: (p: PullProgress) => void): Promise<void> {
    const k = `${image}|${auth?.username ?? ''}`;
    let p = this.inflight.get(k);
    if (!p) {
      let lastLog = 0;
      p = this.runtime
        .pullImage(image, auth, (prog) => {
          onProgress(prog);
          const now = Date.now();
          if (prog.status === 'Pull complete' || prog.status.startsWith('Status:') || now - lastLog > 2000) {
            lastLog = now;
            this.log.info({ image, layer: prog.id, status: prog.status, current: prog.current, total: prog.total }, 'pulling image');
          }
        })
        .finally(() => this.inflight.delete(k));
      this.inflight.set(k, p);
    }
    return p;
  }
}
