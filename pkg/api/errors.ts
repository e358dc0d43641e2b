// errors: the one catalogue of API errors; each becomes a Kubernetes Status with the upstream reason and code.
import type { Status, StatusCause } from './types.ts';

/** GroupResource names what an error is about, as upstream messages print it: `deployments.apps`, `pods`. */
export interface GroupResource {
  group: string;
  resource: string;
}

export function qualifiedResource(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

/** ApiError is thrown anywhere in the server and answered as its Status. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message ?? status.reason ?? 'error');
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

function failure(code: number, reason: string | undefined, message: string, details?: Status['details']): ApiError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code };
  if (reason) status.reason = reason;
  if (details) status.details = details;
  return new ApiError(status);
}

export const errors = {
  notFound(gr: GroupResource, name: string): ApiError {
    return failure(404, 'NotFound', `${qualifiedResource(gr)} "${name}" not found`, { name, group: gr.group || undefined, kind: gr.resource });
  },
  alreadyExists(gr: GroupResource, name: string): ApiError {
    return failure(409, 'AlreadyExists', `${qualifiedResource(gr)} "${name}" already exists`, { name, group: gr.group || undefined, kind: gr.resource });
  },
  conflict(gr: GroupResource, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
    return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${why}`, { name, group: gr.group || undefined, kind: gr.resource });
  },
  /** invalid: 422 with one cause per field error; `kind` is the Kind (`Pod`), as upstream's details carry it. */
  invalid(group: string, kind: string, name: string, causes: FieldError[]): ApiError {
    const text = causes.map(fieldErrorText);
    const message = `${kind}${group ? '.' + group : ''} "${name}" is invalid: ${text.length === 1 ? text[0] : '[' + text.join(', ') + ']'}`;
    return failure(422, 'Invalid', message, {
      name,
      group: group || undefined,
      kind,
      causes: causes.map((c) => ({ reason: c.type, message: fieldErrorDetail(c), field: c.field })),
    });
  },
  badRequest(message: string): ApiError {
    return failure(400, 'BadRequest', message);
  },
  unauthorized(message = 'Unauthorized'): ApiError {
    return failure(401, 'Unauthorized', message);
  },
  forbidden(message: string, details?: Status['details']): ApiError {
    return failure(403, 'Forbidden', message, details);
  },
  expired(message: string): ApiError {
    return failure(410, 'Expired', message);
  },
  gone(message: string): ApiError {
    return failure(410, 'Gone', message);
  },
  methodNotAllowed(message: string): ApiError {
    return failure(405, 'MethodNotAllowed', message);
  },
  notAcceptable(message: string): ApiError {
    return failure(406, 'NotAcceptable', message);
  },
  unsupportedMediaType(contentType: string): ApiError {
    return failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got ${contentType})`);
  },
  requestEntityTooLarge(message: string): ApiError {
    return failure(413, 'RequestEntityTooLarge', message);
  },
  timeout(message: string): ApiError {
    return failure(504, 'Timeout', message);
  },
  serviceUnavailable(message: string): ApiError {
    return failure(503, 'ServiceUnavailable', message);
  },
  internal(message: string): ApiError {
    return failure(500, 'InternalError', `Internal error occurred: ${message}`);
  },
  /** notFoundPath: the plain 404 for an unknown URL, as upstream answers it. */
  notFoundPath(): ApiError {
    return failure(404, 'NotFound', 'the server could not find the requested resource', {});
  },
};

/** FieldErrorType is upstream's field.ErrorType; its `reason` string is what Status causes carry. */
export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueNotFound'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany';

/** FieldError is one validation failure: `spec.replicas: Invalid value: -1: must be greater than or equal to 0`. */
export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  detail?: string;
  /** supported values, for FieldValueNotSupported */
  supported?: string[];
}

const typeText: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueNotFound: 'Not found',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
};

function isStringMap(v: unknown): v is Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const vals = Object.values(v);
  return vals.length > 0 && vals.every((x) => typeof x === 'string');
}

function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'null';
  if (isStringMap(v)) {
    // upstream prints label maps with Go's %#v: map[string]string{"app":"x", "tier":"web"}
    return `map[string]string{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(v[k])}`).join(', ')}}`;
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** fieldErrorDetail is the cause message kubectl prints after the field: `Required value`, `Invalid value: "x": detail`. */
export function fieldErrorDetail(e: FieldError): string {
  let s = typeText[e.type];
  const withValue = e.type === 'FieldValueInvalid' || e.type === 'FieldValueNotSupported' || e.type === 'FieldValueNotFound' || e.type === 'FieldValueDuplicate';
  if (withValue) s += `: ${showValue(e.value)}`;
  if (e.type === 'FieldValueNotSupported' && e.supported?.length) {
    s += `: supported values: ${e.supported.map((x) => JSON.stringify(x)).join(', ')}`;
  } else if (e.detail) {
    s += `: ${e.detail}`;
  }
  return s;
}

export function fieldErrorText(e: FieldError): string {
  return `${e.field}: ${fieldErrorDetail(e)}`;
}

/** field error constructors, named as upstream's field.Required / field.Invalid … */
export const field = {
  required: (path: string, detail?: string): FieldError => ({ type: 'FieldValueRequired', field: path, detail }),
  invalid: (path: string, value: unknown, detail?: string): FieldError => ({ type: 'FieldValueInvalid', field: path, value, detail }),
  notSupported: (path: string, value: unknown, supported: string[]): FieldError => ({ type: 'FieldValueNotSupported', field: path, value, supported }),
  duplicate: (path: string, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field: path, value }),
  notFound: (path: string, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field: path, value }),
  forbidden: (path: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field: path, detail }),
  tooLong: (path: string, value: unknown, max: number): FieldError => ({ type: 'FieldValueTooLong', field: path, value, detail: `must have at most ${max} bytes` }),
};

export type StatusCauseT = StatusCause;
