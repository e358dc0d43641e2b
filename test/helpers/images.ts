// images: builds the small deterministic test images from the host's static busybox, with no registry.
import { existsSync, readFileSync } from 'node:fs';
import { DockerRuntime } from '../../pkg/kubelet/runtime/index.ts';
import { busyboxRootfs, DEFAULT_PAUSE_IMAGE } from '../../pkg/kubelet/runtime/index.ts';

/** TEST_IMAGES are the image references tests use. */
export const TEST_IMAGES = {
  busybox: 'kubeling/busybox:test',
  httpd: 'kubeling/httpd:test',
  pause: DEFAULT_PAUSE_IMAGE,
} as const;

/** HTTPD_BODY is what kubeling/httpd:test serves at `/`. */
export const HTTPD_BODY = 'hello from kubeling\n';

/** hostBusybox reads the host's static busybox (Debian package busybox-static). */
export function hostBusybox(): Buffer {
  const path = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!path) throw new Error('test images need a static busybox at /bin/busybox: apt-get install -y busybox-static');
  return readFileSync(path);
}

/**
 * ensureTestImages builds kubeling/busybox:test (CMD sh), kubeling/httpd:test (busybox httpd serving /www on :80)
 * and the pause image, each only if missing (all of them with `force`).
 */
export async function ensureTestImages(docker: DockerRuntime = new DockerRuntime(), force = false): Promise<typeof TEST_IMAGES> {
  const missing = async (ref: string): Promise<boolean> => force || !(await docker.imageExists(ref));
  if ((await missing(TEST_IMAGES.busybox)) || (await missing(TEST_IMAGES.httpd))) {
    const busybox = hostBusybox();
    await docker.importImage(busyboxRootfs(busybox), TEST_IMAGES.busybox, ['CMD ["sh"]', 'LABEL kubeling.image=busybox']);
    const www = busyboxRootfs(busybox, [
      { type: 'dir', path: 'www' },
      { type: 'file', path: 'www/index.html', data: Buffer.from(HTTPD_BODY) },
    ]);
    await docker.importImage(www, TEST_IMAGES.httpd, [
      'CMD ["httpd", "-f", "-v", "-p", "80", "-h", "/www"]',
      'EXPOSE 80',
      'LABEL kubeling.image=httpd',
    ]);
  }
  await docker.ensurePauseImage(TEST_IMAGES.pause);
  return TEST_IMAGES;
}
