// negotiate: reads request bodies in the media types kubectl sends and decides the response shape from Accept.
import { isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import { ApiError, errors, field } from '../api/errors.ts';
import { MAX_DEPTH, jsonDepth, valueDepth } from '../api/decode.ts';

/** ResponseShape is how a GET/LIST/WATCH answer is rendered. */
export type ResponseShape = 'object' | 'table' | 'partial-metadata';

/**
 * responseShape reads an Accept header such as
 * `application/json;as=Table;v=v1;g=meta.k8s.io,application/json` and picks the first shape it names that we serve.
 */
export function responseShape(accept: string | undefined): ResponseShape {
  if (!accept) return 'object';
  for (const part of accept.split(',')) {
    const params = mediaParams(part);
    if (params.as === 'Table' && (params.g === 'meta.k8s.io' || !params.g) && (params.v === 'v1' || params.v === 'v1beta1')) return 'table';
    if ((params.as === 'PartialObjectMetadata' || params.as === 'PartialObjectMetadataList') && params.g === 'meta.k8s.io') return 'partial-metadata';
    const type = part.split(';')[0].trim();
    if (!params.as && (type === 'application/json' || type === '*/*' || type === 'application/*' || type === 'application/vnd.kubernetes.protobuf' || type === 'application/yaml')) return 'object';
  }
  return 'object';
}

/** wantsAggregatedDiscovery: true when the client asked for apidiscovery.k8s.io/v2 (or v2beta1) first. */
export function aggregatedDiscoveryVersion(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const p = mediaParams(part);
    if (p.g === 'apidiscovery.k8s.io' && p.as === 'APIGroupDiscoveryList' && (p.v === 'v2' || p.v === 'v2beta1')) return p.v;
    const type = part.split(';')[0].trim();
    if (!p.as && (type === 'application/json' || type === '*/*')) return undefined;
  }
  return undefined;
}

export function mediaParams(mediaType: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of mediaType.split(';').slice(1)) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
  }
  return out;
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** BODY_MEDIA_TYPES are the media types a POST/PUT body may have (upstream 1.32, CBOR off); '' reads as JSON. */
const BODY_MEDIA_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

/** PATCH_MEDIA_TYPES are read as JSON, apply patches as YAML. */
const PATCH_MEDIA_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

/** unsupportedBody is upstream's 415 for a body in a media type no serializer reads (text/plain, forms, multipart, cbor). */
export function unsupportedBody(): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `the body of the request was in an unknown format - accepted media types include: ${BODY_MEDIA_TYPES.join(', ')}`,
    reason: 'UnsupportedMediaType',
    code: 415,
  });
}

/**
 * decodeBody parses a JSON, YAML or protobuf body into a value; bad input is a 400 with the parser's words, a media
 * type no decoder reads is a 415. Nesting deeper than MAX_DEPTH (1,000; upstream's decoder: 10,000) is refused before
 * anything recursive meets it, and YAML is parsed in linear time (duplicate keys checked with one set per mapping).
 */
export function decodeBody(body: Buffer | undefined, contentType: string | undefined, decodeProtobuf: (b: Buffer) => unknown): unknown {
  const type = mediaType(contentType);
  // patch bodies reach here too (the scale subresource reads its patch with the request's type)
  if (type !== '' && !BODY_MEDIA_TYPES.includes(type) && !PATCH_MEDIA_TYPES.includes(type)) throw unsupportedBody();
  if (!body || body.length === 0) throw errors.badRequest('the request body is empty');
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobuf(body);
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') {
    // kubectl sends apply patches as JSON, which YAML includes: JSON.parse reads it many times faster
    if (firstByte(body) !== 0x7b) return decodeYaml(body.toString('utf8'));
    if (jsonDepth(body) > MAX_DEPTH) throw errors.badRequest('error decoding YAML: exceeded max depth');
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      return decodeYaml(body.toString('utf8'));
    }
  }
  if (jsonDepth(body) > MAX_DEPTH) throw errors.badRequest('couldn\'t get version/kind; json parse error: exceeded max depth');
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    // a body without a content type may be YAML (upstream's default serializer reads JSON; this is a superset)
    if (type === '') {
      try {
        return decodeYaml(text);
      } catch {
        /* fall through */
      }
    }
    throw errors.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}

/**
 * OFFLOAD_YAML_BYTES: a YAML body this large or larger is parsed off the event loop (the yaml library reads about
 * 1.5 MB/s, so 32 KiB costs ~20 ms; a 3 MiB body of 50,000 keys ~0.6–1.6 s that every other client would wait).
 */
export const OFFLOAD_YAML_BYTES = 32 * 1024;

/**
 * decodeBodyAsync is decodeBody with the YAML parse of a large body handed to `parseYaml` (a worker thread running
 * decodeYaml): the same answers, errors and 415s, but only small bodies are parsed on the caller's thread.
 */
export async function decodeBodyAsync(
  body: Buffer | undefined,
  contentType: string | undefined,
  decodeProtobuf: (b: Buffer) => unknown,
  parseYaml: (text: string) => Promise<unknown>,
): Promise<unknown> {
  if (!body || body.length < OFFLOAD_YAML_BYTES) return decodeBody(body, contentType, decodeProtobuf);
  const type = mediaType(contentType);
  const first = firstByte(body);
  if ((type === 'application/yaml' || type === 'application/apply-patch+yaml') && first !== 0x7b) return parseYaml(body.toString('utf8'));
  if (type !== '' || first === 0x7b || first === 0x5b) return decodeBody(body, contentType, decodeProtobuf);
  // no content type and not JSON-looking: upstream reads JSON, we read YAML too, but the error is JSON's
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    try {
      return await parseYaml(text);
    } catch {
      throw errors.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
    }
  }
}

/** firstByte is the body's first byte that is not white space. */
function firstByte(b: Buffer): number | undefined {
  for (const c of b) if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c;
  return undefined;
}

/** decodeYaml parses exactly one YAML document; a duplicate key, a parse error or too deep a nesting is a 400. */
export function decodeYaml(text: string): unknown {
  try {
    const docs = parseAllDocuments(text, { uniqueKeys: false });
    if (!Array.isArray(docs) || docs.length !== 1) throw new Error(`expected one YAML document, got ${Array.isArray(docs) ? docs.length : 0}`);
    if (docs[0].errors.length) throw docs[0].errors[0];
    checkUniqueKeys(docs[0].contents);
    const value = docs[0].toJSON();
    if (valueDepth(value) > MAX_DEPTH) throw new Error('exceeded max depth');
    return value;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    const message = e instanceof RangeError ? 'exceeded max depth' : (e as Error).message;
    throw errors.badRequest(`error decoding YAML: ${message}`);
  }
}

/**
 * checkUniqueKeys walks a YAML document's nodes (without recursion) and throws on a mapping that repeats a scalar key,
 * with a set per mapping: the yaml library's own check compares every pair of keys (50,000 keys took 20 s).
 */
function checkUniqueKeys(root: unknown): void {
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (isMap(node)) {
      const keys = new Set<unknown>();
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        if (isScalar(pair.key) && keys.has(k)) throw new Error(`Map keys must be unique (duplicate key ${JSON.stringify(String(k))})`);
        keys.add(k);
        if (pair.value) stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
}

/**
 * parseListLimit reads a list's `limit` query parameter as upstream's int64 conversion does: not a whole number is a
 * 400 in strconv's words, a negative one a 422 on ListOptions; '' or absent is no limit.
 */
export function parseListLimit(raw: string | null | undefined): number | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined;
  if (!/^[+-]?\d+$/.test(raw)) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(raw)}: value out of range`);
  if (n < 0) throw errors.invalid('meta.k8s.io', 'ListOptions', '', [field.invalid('limit', n, 'must be greater than or equal to 0')]);
  return n;
}
