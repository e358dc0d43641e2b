// protobuf: decodes Kubernetes protobuf request bodies and exposes the API message descriptors they are read with.
export { decodeKubernetesProtobuf, MAGIC } from './decode.ts';
export { protoRoot, messageForKind, protoPackage, jsonField, QUANTITY, INT_OR_STRING, TIME, MICRO_TIME, FIELDS_V1, RAW_EXTENSION } from './schema.ts';
export type { JsonField } from './schema.ts';
