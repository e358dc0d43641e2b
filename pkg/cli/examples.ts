// examples: the quick start's example manifests (deploy/examples/simplek8s) read as objects, with the image swapped
// when KUBELING_EXAMPLE_IMAGE asks, and the address to fetch its page at.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../api/types.ts';

/** EXAMPLE_IMAGE is the image the tutorial's files name. */
export const EXAMPLE_IMAGE = 'stephengrider/multi-client';
/** EXAMPLE_NODE_PORT is the tutorial's NodePort. */
export const EXAMPLE_NODE_PORT = 31515;
/** EXAMPLE_SELECTOR selects the tutorial's web pods. */
export const EXAMPLE_SELECTOR = 'component=web';

/** parseManifests reads every YAML document of the texts (empty documents skipped). */
export function parseManifests(texts: string[]): KubeObject[] {
  const out: KubeObject[] = [];
  for (const text of texts) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) throw new Error(doc.errors[0]!.message);
      const obj = doc.toJS() as KubeObject | null;
      if (obj) out.push(obj);
    }
  }
  return out;
}

/** loadExample reads the *.yaml files of a directory, in name order. */
export function loadExample(dir: string): KubeObject[] {
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  return parseManifests(files.map((f) => readFileSync(join(dir, f), 'utf8')));
}

/** withImage replaces `from` by `to` in every container of pods and pod templates (the objects are copied). */
export function withImage(objs: KubeObject[], to: string, from = EXAMPLE_IMAGE): KubeObject[] {
  return objs.map((o) => {
    const copy = structuredClone(o);
    const spec = copy.kind === 'Pod' ? copy.spec : copy.spec?.template?.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])] as { image?: string }[]) if (c.image === from) c.image = to;
    return copy;
  });
}

/** nodePortHost picks where to fetch a NodePort: the node's InternalIP, or the first single address of --nodeport-addresses. */
export function nodePortHost(internalIp: string | undefined, nodePortAddresses: string[]): string {
  const single = nodePortAddresses.map((c) => /^([0-9.]+)\/32$/.exec(c.trim())?.[1]).find(Boolean);
  if (nodePortAddresses.length && single && single !== internalIp) return single;
  return internalIp ?? '127.0.0.1';
}
