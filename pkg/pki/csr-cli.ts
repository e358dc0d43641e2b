// csr-cli: a child-process entry for CSR work (request, read, sign) so the X.509 libraries never enter a long-running process; JSON in on stdin, JSON out on stdout.
import { createKeyAndRequest, readRequest, signRequest } from './csr.ts';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const out =
  process.argv[2] === 'request' ? await createKeyAndRequest(input)
  : process.argv[2] === 'read' ? await readRequest(input.csrPem)
  : process.argv[2] === 'sign' ? { certPem: await signRequest(input.ca, input.csrPem, input.usages, input.seconds) }
  : undefined;
if (!out) throw new Error(`unknown command ${process.argv[2]}`);
process.stdout.write(JSON.stringify(out));
