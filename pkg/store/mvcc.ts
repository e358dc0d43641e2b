// mvcc: the store's pure rules — write preconditions, revision stamping, continue tokens and compaction targets.
import type { KubeObject } from '../api/types.ts';
import { StoreError, type ObjectSummary } from './types.ts';

/** WriteKind names the three writes the store accepts. */
export type WriteKind = 'create' | 'update' | 'delete';

/** Current is what a precondition needs to know about a key's live state. */
export interface Current {
  revision: number;
}

/**
 * checkWrite applies kine's rules against the key's live state (undefined = absent): create needs an absent key,
 * update and delete a present one whose revision equals `expectedRevision` when that is given.
 * Returns the StoreError to reject with, or undefined when the write may apply.
 */
export function checkWrite(
  kind: WriteKind,
  resource: string,
  namespace: string,
  name: string,
  current: Current | undefined,
  expectedRevision?: number,
): StoreError | undefined {
  const what = `${resource} "${namespace ? namespace + '/' : ''}${name}"`;
  if (kind === 'create') {
    return current ? new StoreError('AlreadyExists', `${what} already exists`) : undefined;
  }
  if (!current) return new StoreError('NotFound', `${what} not found`);
  if (expectedRevision !== undefined && expectedRevision !== current.revision) {
    return new StoreError('Conflict', `${what}: revision ${expectedRevision} is not the stored revision ${current.revision}`);
  }
  return undefined;
}

/** keyOf reads the (namespace, name) an object is stored under; cluster-scoped objects have namespace ''. */
export function keyOf(obj: KubeObject): { namespace: string; name: string } {
  const name = obj?.metadata?.name;
  if (typeof name !== 'string' || name === '') throw new Error('store: object has no metadata.name');
  return { namespace: obj.metadata.namespace ?? '', name };
}

/**
 * SERIALISED marks an object whose text was made already (off the event loop): the object itself is a shell with the
 * metadata the store reads (name, namespace, labels), the property holds the text cut where the resourceVersion goes.
 */
export const SERIALISED: unique symbol = Symbol('kubeling.serialised');

/** Serialised is what SERIALISED holds: the text is `before + JSON.stringify(resourceVersion) + after`. */
export interface Serialised {
  before: string;
  after: string;
  /** what the writer knew of the object, handed to watchers with its event (StoreEvent.summary) */
  summary?: ObjectSummary;
}

/** serialisedOf is the text an object carries under SERIALISED, if any. */
export function serialisedOf(obj: KubeObject): Serialised | undefined {
  return (obj as KubeObject & { [SERIALISED]?: Serialised })[SERIALISED];
}

/** RV_MARK stands in for the resourceVersion while an object is serialised before its revision is known. */
const RV_MARK = `\u0000kubeling-rv-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}\u0000`;
const RV_MARK_JSON = JSON.stringify(RV_MARK);

/**
 * serialise is `obj`'s text cut where the resourceVersion goes (the halves stamp joins), made once: the text an object
 * carries under SERIALISED, or `obj` stringified with a stand-in for metadata.resourceVersion. `obj` is left untouched.
 */
export function serialise(obj: KubeObject): Serialised {
  const made = serialisedOf(obj);
  // the halves only: this is what crosses to the writer thread (the summary stays for the watchers)
  if (made) return made.summary === undefined ? made : { before: made.before, after: made.after };
  const text = JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: RV_MARK } });
  const i = text.indexOf(RV_MARK_JSON);
  return { before: text.slice(0, i), after: text.slice(i + RV_MARK_JSON.length) };
}

/** joinStamped is the stored text of serialised halves at `revision`. */
export function joinStamped(text: Serialised, revision: number): string {
  return text.before + JSON.stringify(String(revision)) + text.after;
}

/** stamp serialises `obj` with metadata.resourceVersion = String(revision), leaving `obj` untouched. */
export function stamp(obj: KubeObject, revision: number): string {
  const made = serialisedOf(obj);
  if (made) return joinStamped(made, revision);
  return JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } });
}

/** labelsText is the labels column: the labels as JSON, or null when the object has none. */
export function labelsText(obj: KubeObject): string | null {
  const labels = obj.metadata.labels;
  return labels && Object.keys(labels).length > 0 ? JSON.stringify(labels) : null;
}

/** ContinueKey is what a continue token carries: the resource, the last key returned and the list's revision. */
export interface ContinueKey {
  resource: string;
  namespace: string;
  name: string;
  revision: number;
}

/** encodeContinue makes the opaque token: base64url of a small JSON document. */
export function encodeContinue(k: ContinueKey): string {
  return Buffer.from(JSON.stringify({ v: 1, r: k.resource, ns: k.namespace, n: k.name, rv: k.revision })).toString('base64url');
}

/** decodeContinue reads a token back; it returns a reason string when the token is not one of ours for `resource`. */
export function decodeContinue(token: string, resource: string): ContinueKey | string {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return 'continue key is not valid: not a token this server issued';
  }
  const d = doc as { v?: unknown; r?: unknown; ns?: unknown; n?: unknown; rv?: unknown };
  if (d === null || typeof d !== 'object' || d.v !== 1 || typeof d.ns !== 'string' || typeof d.n !== 'string' || typeof d.rv !== 'number') {
    return 'continue key is not valid: not a token this server issued';
  }
  if (d.r !== resource) return 'continue key is not valid: it belongs to another resource';
  return { resource, namespace: d.ns, name: d.n, revision: d.rv };
}

/**
 * compactTarget is the revision a default compaction drops history up to: everything committed before the history
 * window (`byTime`: the newest revision committed at or before now − historyMs), and in any case everything but the
 * newest `keep` revisions (the floor that bounds the log under churn). Example: revision 5000, keep 1000, byTime 4200,
 * compacted 3000 → 4200; byTime 100 → 4000; revision 3500, byTime 0 → undefined (nothing new).
 */
export function compactTarget(revision: number, compacted: number, keep: number, byTime = 0): number | undefined {
  const target = Math.min(revision, Math.max(byTime, revision - keep));
  return target > compacted ? target : undefined;
}

/** Keyed is what list pages merge on. */
export interface Keyed {
  namespace: string;
  name: string;
}

/** keyLess orders keys as the store lists them: by namespace, then name (names are ASCII, so JS order = SQLite's). */
export function keyLess(a: Keyed, b: Keyed): boolean {
  return a.namespace < b.namespace || (a.namespace === b.namespace && a.name < b.name);
}

/** mergeKeyed merges two lists sorted by key (their keys are disjoint), keeping at most `limit` entries. */
export function mergeKeyed<A extends Keyed, B extends Keyed>(a: A[], b: B[], limit = Infinity): (A | B)[] {
  if (b.length === 0) return a.length > limit ? a.slice(0, limit) : a;
  const out: (A | B)[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && keyLess(a[i], b[j]))) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}
