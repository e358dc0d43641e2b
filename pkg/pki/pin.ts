// pin: the agent's trust bootstrap — fetch the server's CA from /cacerts unverified, then pin it by the token's hash.
import { X509Certificate, createHash } from 'node:crypto';
import { https } from '../util/nodehttp.ts';
import type { TLSSocket } from 'node:tls';
import { caHashOf } from './tokens.ts';

const MAX_BODY = 1 << 20;

interface Fetched {
  status: number;
  body: Buffer;
  peer?: X509Certificate;
}

function fetchUnverified(url: URL, timeoutMs: number): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', rejectUnauthorized: false, timeout: timeoutMs, agent: false }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerX509Certificate?.();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`response from ${url} is larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), peer }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs}ms fetching ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** cacertsUrl is `<server>/cacerts`, keeping any path prefix of the server URL. */
export function cacertsUrl(serverUrl: string): URL {
  const base = new URL(serverUrl);
  if (base.protocol !== 'https:') throw new Error(`server URL must be https: ${serverUrl}`);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return new URL('cacerts', base);
}

/**
 * fetchAndPinCa downloads the CA from GET <server>/cacerts without TLS verification, then trusts it only if its
 * SHA-256 matches `caHash` (the hash of the served PEM bytes, as caHashOf computes; the DER fingerprint of the
 * certificate is accepted too, as k3s does for custom CAs) and the server's own certificate is signed by it.
 * Returns the CA PEM, which the agent then uses to verify every further connection.
 */
export async function fetchAndPinCa(serverUrl: string, caHash: string, opts: { timeoutMs?: number } = {}): Promise<string> {
  const url = cacertsUrl(serverUrl);
  const want = caHash.trim().toLowerCase();
  let res: Fetched;
  try {
    res = await fetchUnverified(url, opts.timeoutMs ?? 10_000);
  } catch (err) {
    throw new Error(`cannot fetch the cluster CA from ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (res.status !== 200) throw new Error(`cannot fetch the cluster CA from ${url}: HTTP ${res.status}`);
  const pem = res.body.toString('utf8');
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(pem);
  } catch {
    throw new Error(`${url} did not return a PEM certificate`);
  }
  const pemHash = caHashOf(pem);
  const derHash = createHash('sha256').update(ca.raw).digest('hex');
  if (want !== pemHash && want !== derHash) {
    throw new Error(
      `the CA served by ${url} does not match the join token: the token expects sha256 ${want}, ` +
        `the server's CA hashes to ${pemHash}. Check the token and the server URL (possible man-in-the-middle).`,
    );
  }
  const peer = res.peer;
  const peerOk = peer !== undefined && (peer.fingerprint256 === ca.fingerprint256 || (peer.checkIssued(ca) && peer.verify(ca.publicKey)));
  if (!peerOk) throw new Error(`the certificate presented by ${url.host} is not signed by the pinned cluster CA`);
  return pem;
}
