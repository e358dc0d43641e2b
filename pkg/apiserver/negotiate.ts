// negotiate: reads request bodies in the media types kubectl sends and decides the response shape from Accept.
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { errors } from '../api/errors.ts';

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

/** decodeJsonOrYaml parses a JSON or YAML body into a value; bad input is a 400 with the parser's words. */
export function decodeBody(body: Buffer | undefined, contentType: string | undefined, decodeProtobuf: (b: Buffer) => unknown): unknown {
  if (!body || body.length === 0) throw errors.badRequest('the request body is empty');
  const type = mediaType(contentType);
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobuf(body);
  const text = body.toString('utf8');
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') {
    try {
      const docs = parseAllDocuments(text);
      if (docs.length !== 1) throw new Error(`expected one YAML document, got ${docs.length}`);
      if (docs[0].errors.length) throw docs[0].errors[0];
      return docs[0].toJSON();
    } catch (e) {
      throw errors.badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // Some clients send YAML as application/json-ish; upstream tries YAML too for apply.
    try {
      if (type === '' || type === 'text/plain') return parseYaml(text);
    } catch {
      /* fall through */
    }
    throw errors.badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}
