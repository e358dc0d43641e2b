// api: a raw HTTPS client (undici, trusting the server's CA, bearer token) for integration tests that speak the REST API directly.
import { Agent, request } from 'undici';

export interface ApiTarget {
  url: string;
  token: string;
  caPem: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: any;
}

/** WatchStream collects the NDJSON events of one watch request. */
export interface WatchStream {
  status: number;
  events: WatchEvent[];
  /** resolves when the server ends the stream */
  ended: Promise<void>;
  isEnded(): boolean;
  /** waits until `n` events arrived (or throws after `ms`) */
  waitFor(n: number, ms?: number): Promise<WatchEvent[]>;
  close(): void;
}

/** apiClient returns request helpers bound to one server; `connections` sizes the connection pool. */
export function apiClient(t: ApiTarget, connections = 16) {
  const dispatcher = new Agent({ connect: { ca: t.caPem }, connections, pipelining: 1 });
  const auth = { authorization: `Bearer ${t.token}` };

  async function req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const hasBody = body !== undefined;
    const r = await request(`${t.url}${path}`, {
      method: method as any,
      dispatcher,
      headers: { ...auth, accept: 'application/json', ...(hasBody ? { 'content-type': 'application/json' } : {}), ...headers },
      body: hasBody ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
    });
    const text = await r.body.text();
    let parsed: any = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: r.statusCode, headers: r.headers, body: parsed, text };
  }

  async function watch(path: string, headers: Record<string, string> = {}): Promise<WatchStream> {
    const ac = new AbortController();
    const r = await request(`${t.url}${path}`, { method: 'GET', dispatcher, headers: { ...auth, accept: 'application/json', ...headers }, signal: ac.signal });
    const events: WatchEvent[] = [];
    let ended = false;
    let buf = '';
    const done = (async () => {
      try {
        for await (const chunk of r.body) {
          buf += chunk.toString();
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line) events.push(JSON.parse(line));
          }
        }
      } catch {
        /* aborted */
      } finally {
        ended = true;
      }
    })();
    return {
      status: r.statusCode,
      events,
      ended: done,
      isEnded: () => ended,
      async waitFor(n: number, ms = 10_000) {
        const end = Date.now() + ms;
        while (events.length < n) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${n} watch events; got ${JSON.stringify(events.map((e) => e.type))}`);
          if (ended) throw new Error(`stream ended after ${events.length} events: ${JSON.stringify(events.map((e) => e.type))}`);
          await new Promise((res) => setTimeout(res, 20));
        }
        return events;
      },
      close: () => ac.abort(),
    };
  }

  return { req, watch, close: () => dispatcher.destroy() };
}

export type ApiClient = ReturnType<typeof apiClient>;
