// testserver: test-only helpers — a throwaway HTTPS server on 127.0.0.1 and a CA-pinned GET against it.
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';

/** TestServer is a listening HTTPS server; close() stops it. */
export interface TestServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** startHttps serves `handler` over TLS with the given PEM cert/key on 127.0.0.1 and an ephemeral port. */
export async function startHttps(
  tls: { certPem: string; keyPem: string },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** getPinned GETs https://127.0.0.1:<port><path> trusting only `caPem`; the cert must name `servername`, else 127.0.0.1. */
export function getPinned(port: number, path: string, caPem: string | undefined, servername?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: caPem, agent: false, ...(servername ? { servername } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
