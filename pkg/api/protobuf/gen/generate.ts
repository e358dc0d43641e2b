// generate: rebuilds proto/*.proto from the descriptors and Go struct tags compiled into a kubectl binary (dev tool, not loaded at run time).
//
// Usage: node pkg/api/protobuf/gen/generate.ts [path/to/kubectl.1.33]
// kubectl embeds each upstream generated.proto as a gzipped FileDescriptorProto and keeps Go reflection
// data (field names, `json`/`protobuf` tags, field types) for every API struct. From them we write trimmed
// .proto files holding every message reachable from the kinds kubeling serves, each field annotated with its
// Go JSON tag and whether the Go field is a pointer; comments come from the kubernetes-types package.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const outDir = path.join(here, '..', 'proto');
const require = createRequire(import.meta.url);

/** FILES maps the upstream descriptor name to the flat file name kept in proto/. */
const FILES: Record<string, string> = {
  'k8s.io/apimachinery/pkg/runtime/generated.proto': 'runtime.proto',
  'k8s.io/apimachinery/pkg/runtime/schema/generated.proto': 'runtime-schema.proto',
  'k8s.io/apimachinery/pkg/api/resource/generated.proto': 'resource.proto',
  'k8s.io/apimachinery/pkg/util/intstr/generated.proto': 'intstr.proto',
  'k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto': 'meta-v1.proto',
  'k8s.io/api/core/v1/generated.proto': 'core-v1.proto',
  'k8s.io/api/apps/v1/generated.proto': 'apps-v1.proto',
  'k8s.io/api/batch/v1/generated.proto': 'batch-v1.proto',
  'k8s.io/api/coordination/v1/generated.proto': 'coordination-v1.proto',
  'k8s.io/api/certificates/v1/generated.proto': 'certificates-v1.proto',
  'k8s.io/api/discovery/v1/generated.proto': 'discovery-v1.proto',
  'k8s.io/api/rbac/v1/generated.proto': 'rbac-v1.proto',
  'k8s.io/api/authorization/v1/generated.proto': 'authorization-v1.proto',
  'k8s.io/api/authentication/v1/generated.proto': 'authentication-v1.proto',
};

/** ROOTS are the messages whose reachable tree is kept. */
const ROOTS = [
  'k8s.io.apimachinery.pkg.runtime.Unknown',
  ...['Pod', 'Service', 'ReplicationController', 'Namespace', 'Node', 'Endpoints', 'ConfigMap', 'Secret', 'Event',
    'PersistentVolumeClaim', 'PersistentVolume', 'ServiceAccount'].map((k) => `k8s.io.api.core.v1.${k}`),
  ...['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'ControllerRevision'].map((k) => `k8s.io.api.apps.v1.${k}`),
  ...['Job', 'CronJob'].map((k) => `k8s.io.api.batch.v1.${k}`),
  'k8s.io.api.coordination.v1.Lease',
  'k8s.io.api.certificates.v1.CertificateSigningRequest',
  'k8s.io.api.discovery.v1.EndpointSlice',
  ...['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].map((k) => `k8s.io.api.rbac.v1.${k}`),
  ...['SelfSubjectAccessReview', 'SubjectAccessReview', 'LocalSubjectAccessReview', 'SelfSubjectRulesReview'].map((k) => `k8s.io.api.authorization.v1.${k}`),
  ...['SelfSubjectReview', 'TokenReview', 'TokenRequest'].map((k) => `k8s.io.api.authentication.v1.${k}`),
];

/** OVERRIDES fills Go facts the binary scan cannot match (an embedded field whose protobuf tag has no name=). */
const OVERRIDES: Record<string, Record<string, string>> = {
  'k8s.io.api.core.v1.EphemeralContainer': { ephemeralContainerCommon: ',inline', targetContainerName: 'targetContainerName,omitempty' },
};

interface FieldDesc { name: string; number: number; label: string; type: string; typeName?: string }
interface MsgDesc { name: string; field?: FieldDesc[]; nestedType?: MsgDesc[]; options?: { mapEntry?: boolean } }
interface FileDesc { name: string; package: string; dependency?: string[]; messageType?: MsgDesc[] }

function extractDescriptors(bin: Buffer): Map<string, FileDesc> {
  const root = protobuf.loadSync(require.resolve('protobufjs/google/protobuf/descriptor.proto'));
  const FDP = root.lookupType('google.protobuf.FileDescriptorProto');
  const sig = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0xff]);
  const out = new Map<string, FileDesc>();
  for (let i = bin.indexOf(sig); i >= 0; i = bin.indexOf(sig, i + 1)) {
    let raw: Buffer;
    try {
      raw = zlib.inflateRawSync(bin.subarray(i + 10, i + 10 + 4_000_000), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch {
      continue;
    }
    if (raw[0] !== 0x0a) continue;
    const name = raw.subarray(2, 2 + raw[1]).toString();
    if (!(name in FILES)) continue;
    const fd = FDP.toObject(FDP.decode(raw), { enums: String, longs: Number }) as FileDesc;
    out.set(name, fd);
  }
  return out;
}

interface GoField { pname: string; num: number; json: string; ptr: boolean; patchStrategy?: string; patchMergeKey?: string }

/** goStructs reads Go reflection data: every struct field array whose fields carry protobuf tags. */
function goStructs(bin: Buffer): GoField[][] {
  const BASE = 0x400000; // non-PIE amd64: virtual address = file offset + 0x400000
  const inFile = (va: number) => va >= BASE && va - BASE < bin.length;
  const names = new Map<number, { tag: string }>();
  const needle = Buffer.from('json:"');
  for (let p = bin.indexOf(needle); p >= 0; p = bin.indexOf(needle, p + 1)) {
    for (const vlen of [1, 2]) {
      let tlen: number;
      if (vlen === 1) {
        tlen = bin[p - 1];
        if (tlen & 0x80) continue;
      } else {
        const a = bin[p - 2], b = bin[p - 1];
        if (!(a & 0x80) || b & 0x80) continue;
        tlen = (a & 0x7f) | (b << 7);
      }
      const tag = bin.subarray(p, p + tlen).toString('latin1');
      if (!tag.includes('protobuf:"')) continue;
      const nameEnd = p - vlen;
      for (let L = 1; L < 64; L++) {
        const lenPos = nameEnd - L - 1;
        if (bin[lenPos] !== L || !(bin[lenPos - 1] & 2)) continue;
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(bin.subarray(lenPos + 1, nameEnd).toString('latin1'))) continue;
        names.set(lenPos - 1 + BASE, { tag });
        break;
      }
    }
  }
  const word = (o: number) => Number(bin.readBigUInt64LE(o));
  // a struct field entry: {name *byte, typ *Type, offset uintptr}
  const isEntry = (o: number) => {
    if (o < 0 || o + 24 > bin.length) return false;
    const n = word(o), t = word(o + 8);
    if (!inFile(n) || !inFile(t)) return false;
    const flags = bin[n - BASE];
    return flags < 16 && bin[n - BASE + 1] > 0 && bin[n - BASE + 1] < 128 && /[A-Za-z_]/.test(String.fromCharCode(bin[n - BASE + 2]));
  };
  const starts = new Set<number>();
  for (let o = 0; o + 24 <= bin.length; o += 8) {
    if (bin.readUInt32LE(o + 4) !== 0 || !names.has(bin.readUInt32LE(o))) continue;
    let s = o;
    while (isEntry(s - 24) && word(s - 8) <= word(s + 16)) s -= 24;
    starts.add(s);
  }
  const structs: GoField[][] = [];
  for (const s of starts) {
    const fields: GoField[] = [];
    for (let o = s; isEntry(o) && (o === s || word(o - 8) <= word(o + 16)); o += 24) {
      const n = names.get(word(o));
      if (!n) continue;
      const kind = bin[word(o + 8) - BASE + 23] & 0x1f;
      const pb = /protobuf:"([^"]*)"/.exec(n.tag)![1].split(',');
      const pname = pb.find((x) => x.startsWith('name='))?.slice(5) ?? '';
      const json = /json:"([^"]*)"/.exec(n.tag)?.[1] ?? '';
      const patchStrategy = /patchStrategy:"([^"]*)"/.exec(n.tag)?.[1];
      const patchMergeKey = /patchMergeKey:"([^"]*)"/.exec(n.tag)?.[1];
      fields.push({ pname, num: Number(pb[1]), json, ptr: kind === 22, patchStrategy, patchMergeKey });
    }
    structs.push(fields);
  }
  return structs;
}

/** docComments reads kubernetes-types' .d.ts files: interface → {'': type doc, field → doc}. */
function docComments(): Map<string, Map<string, string>> {
  const base = path.dirname(require.resolve('kubernetes-types/package.json'));
  const out = new Map<string, Map<string, string>>();
  const files: [string, string][] = [
    ['core/v1.d.ts', 'k8s.io.api.core.v1'], ['apps/v1.d.ts', 'k8s.io.api.apps.v1'], ['batch/v1.d.ts', 'k8s.io.api.batch.v1'],
    ['coordination/v1.d.ts', 'k8s.io.api.coordination.v1'], ['discovery/v1.d.ts', 'k8s.io.api.discovery.v1'], ['meta/v1.d.ts', 'k8s.io.apimachinery.pkg.apis.meta.v1'],
    ['api/resource.d.ts', 'k8s.io.apimachinery.pkg.api.resource'], ['util/intstr.d.ts', 'k8s.io.apimachinery.pkg.util.intstr'],
    ['runtime.d.ts', 'k8s.io.apimachinery.pkg.runtime'],
  ];
  for (const [file, pkg] of files) {
    const p = path.join(base, file);
    if (!fs.existsSync(p)) continue;
    const text = fs.readFileSync(p, 'utf8');
    const re = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*\n\s*(?:export (?:interface|type) (\w+)|(?:readonly\s+)?(\w+)\??:)/g;
    let cur: Map<string, string> | undefined;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const doc = m[1].split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim();
      if (m[2]) {
        cur = new Map([['', doc]]);
        out.set(`${pkg}.${m[2]}`, cur);
      } else if (cur) {
        cur.set(m[3], doc);
      }
    }
  }
  return out;
}

const SCALARS: Record<string, string> = {
  TYPE_STRING: 'string', TYPE_INT32: 'int32', TYPE_INT64: 'int64', TYPE_BOOL: 'bool', TYPE_BYTES: 'bytes',
  TYPE_DOUBLE: 'double', TYPE_FLOAT: 'float', TYPE_UINT32: 'uint32', TYPE_UINT64: 'uint64', TYPE_SINT32: 'sint32',
  TYPE_SINT64: 'sint64', TYPE_FIXED32: 'fixed32', TYPE_FIXED64: 'fixed64',
};

function comment(doc: string | undefined, indent: string): string {
  if (!doc) return '';
  return doc.split('\n').map((l) => `${indent}//${l ? ' ' + l : ''}\n`).join('');
}

function main(): void {
  const binPath = process.argv[2] ?? path.join(path.dirname(fs.realpathSync('/usr/bin/kubectl')), 'kubectl.1.33');
  const bin = fs.readFileSync(binPath);
  const files = extractDescriptors(bin);
  for (const f of Object.keys(FILES)) if (!files.has(f)) throw new Error(`descriptor ${f} not found in ${binPath}`);

  const messages = new Map<string, { file: string; msg: MsgDesc }>();
  for (const [fname, fd] of files) for (const m of fd.messageType ?? []) messages.set(`${fd.package}.${m.name}`, { file: fname, msg: m });

  // reachable closure
  const keep = new Set<string>();
  const stack = [...ROOTS];
  while (stack.length) {
    const n = stack.pop()!;
    if (keep.has(n)) continue;
    const e = messages.get(n);
    if (!e) throw new Error(`message ${n} not found`);
    keep.add(n);
    const visit = (m: MsgDesc) => {
      for (const f of m.field ?? []) if (f.typeName) {
        const t = f.typeName.slice(1);
        if (messages.has(t)) stack.push(t);
      }
      for (const nt of m.nestedType ?? []) visit(nt);
    };
    visit(e.msg);
  }

  // Go facts per message: exact match of the (name, number) sets
  const go = goStructs(bin);
  const bySig = new Map<string, GoField[][]>();
  for (const s of go) {
    const sig = s.map((f) => `${f.pname}=${f.num}`).sort().join(' ');
    if (!bySig.has(sig)) bySig.set(sig, []);
    bySig.get(sig)!.push(s);
  }
  const docs = docComments();
  const inlinedInto = new Map<string, string[]>();
  for (const [full, { msg }] of messages) {
    for (const f of msg.field ?? []) {
      const sig = (msg.field ?? []).map((x) => `${x.name}=${x.number}`).sort().join(' ');
      const inline = (bySig.get(sig) ?? []).some((c) => c.find((g) => g.pname === f.name)?.json === ',inline') || OVERRIDES[full]?.[f.name] === ',inline';
      if (inline && f.typeName) inlinedInto.set(f.typeName.slice(1), [...(inlinedInto.get(f.typeName.slice(1)) ?? []), full]);
    }
  }
  let unmatched = 0;

  for (const [fname, fd] of files) {
    const kept = (fd.messageType ?? []).filter((m) => keep.has(`${fd.package}.${m.name}`));
    if (!kept.length) continue;
    const deps = (fd.dependency ?? []).filter((d) => d in FILES).filter((d) => {
      const pkg = files.get(d)!.package;
      return kept.some((m) => (m.field ?? []).concat(...(m.nestedType ?? []).map((n) => n.field ?? [])).some((f) => f.typeName?.startsWith(`.${pkg}.`)));
    });
    let out = `// ${FILES[fname]}: trimmed from upstream ${fname} (Apache-2.0, The Kubernetes Authors), generated by gen/generate.ts.\n`;
    out += `// Field options: (json) is the Go field's JSON tag, (ptr) marks a Go pointer field (its zero value is meaningful),\n`;
    out += `// (patchStrategy) and (patchMergeKey) are the Go tags strategic merge patch reads.\n\n`;
    out += `syntax = "proto2";\n\npackage ${fd.package};\n\n`;
    for (const d of deps) out += `import "${FILES[d]}";\n`;
    if (deps.length) out += '\n';
    for (const m of kept) {
      const full = `${fd.package}.${m.name}`;
      const sig = (m.field ?? []).map((f) => `${f.name}=${f.number}`).sort().join(' ');
      const cands = bySig.get(sig) ?? [];
      if (!cands.length && (m.field ?? []).length && !OVERRIDES[full]) {
        unmatched++;
        console.error(`no Go struct for ${full}`);
      }
      const doc = docs.get(full) ?? new Map<string, string>();
      // an inlined message (VolumeSource, ProbeHandler…) has its field docs on the parent kubernetes-types flattens it into
      for (const parent of inlinedInto.get(full) ?? []) {
        for (const [k, v] of docs.get(parent) ?? []) if (k && !doc.has(k)) doc.set(k, v);
      }
      out += comment(doc?.get(''), '');
      out += `message ${m.name} {\n`;
      for (const f of m.field ?? []) {
        const goFs = cands.map((c) => c.find((g) => g.pname === f.name)!);
        const ptrs = new Set(goFs.map((g) => g.ptr));
        if (ptrs.size > 1) console.error(`pointer-ness differs for ${full}.${f.name}; taking pointer`);
        const jsonTag = goFs[0]?.json ?? OVERRIDES[full]?.[f.name];
        out += comment(doc?.get(f.name), '  ');
        const opts: string[] = [];
        if (jsonTag !== undefined) opts.push(`(json) = ${JSON.stringify(jsonTag)}`);
        if (ptrs.has(true)) opts.push('(ptr) = true');
        const ps = goFs.find((g) => g.patchStrategy)?.patchStrategy;
        const pk = goFs.find((g) => g.patchMergeKey)?.patchMergeKey;
        if (ps) opts.push(`(patchStrategy) = ${JSON.stringify(ps)}`);
        if (pk) opts.push(`(patchMergeKey) = ${JSON.stringify(pk)}`);
        const o = opts.length ? ` [${opts.join(', ')}]` : '';
        const nested = f.typeName ? (m.nestedType ?? []).find((n) => `${full}.${n.name}` === f.typeName!.slice(1)) : undefined;
        if (nested?.options?.mapEntry) {
          const [k, v] = nested.field!;
          const vt = v.typeName ? v.typeName.slice(1) : SCALARS[v.type];
          out += `  map<${SCALARS[k.type]}, ${vt}> ${f.name} = ${f.number}${o};\n`;
        } else {
          const t = f.typeName ? f.typeName.slice(1) : SCALARS[f.type];
          if (!t) throw new Error(`type ${f.type} of ${full}.${f.name}`);
          const label = f.label === 'LABEL_REPEATED' ? 'repeated' : 'optional';
          out += `  ${label} ${t.startsWith('k8s.io.') ? '.' + t : t} ${f.name} = ${f.number}${o};\n`;
        }
        out += '\n';
      }
      out = out.replace(/\n\n$/, '\n');
      out += `}\n\n`;
    }
    fs.writeFileSync(path.join(outDir, FILES[fname]), out.replace(/\n+$/, '\n'));
  }
  console.error(`kept ${keep.size} messages; ${unmatched} without Go facts`);
}

main();
