// servingcert-cli: a child-process entry that issues the agent endpoint's self-signed serving certificate and prints
// it as JSON, so the X.509 libraries (~30 MB resident once loaded) never enter the long-running agent.
import { createCa, issueCert } from '../pki/certs.ts';
import { servingSans } from './servingcert.ts';

const host = process.argv[2] ?? '127.0.0.1';
const ca = await createCa('kubeling-agent-ca', 3650);
const cert = await issueCert(ca, { cn: `system:node:${host}`, days: 3650, server: true, sans: servingSans(host) });
process.stdout.write(JSON.stringify({ certPem: cert.certPem + ca.certPem, keyPem: cert.keyPem }));
