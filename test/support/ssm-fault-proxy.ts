/**
 * A fault-injecting HTTP proxy in front of moto_server, on a free loopback
 * port, for what moto cannot do by itself: hold an SSM call for a while, or
 * let another writer's call land just before it. Point one service at it
 * (AWS_ENDPOINT_URL_SSM=<url>); every request is passed to moto unchanged
 * once the hook for it returns.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedCall {
  /** `X-Amz-Target` of AWS JSON protocols, e.g. `AmazonSSM.PutParameter`. */
  target: string;
  /** The request body as JSON (AWS JSON protocols), or undefined. */
  json?: Record<string, unknown>;
  /** When the whole request had arrived (performance.now()). */
  at: number;
}

export interface SsmFaultProxy {
  url: string;
  /** Every call seen, in arrival order. */
  calls: ProxiedCall[];
  /** Calls received and not yet answered. */
  inFlight(): number;
  stop(): Promise<void>;
}

/** `beforeForward` runs for every call before it goes to moto: delay it, or do something first. */
export async function startSsmFaultProxy(
  upstream: string,
  beforeForward: (call: ProxiedCall) => Promise<void> | void,
): Promise<SsmFaultProxy> {
  const target = new URL(upstream);
  const calls: ProxiedCall[] = [];
  let pending = 0;
  const server = http.createServer((req, res) => {
    pending += 1;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const call: ProxiedCall = {
          target: String(req.headers['x-amz-target'] ?? ''),
          at: performance.now(),
        };
        try {
          call.json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        } catch {
          // not a JSON protocol call
        }
        calls.push(call);
        try {
          await beforeForward(call);
        } catch (err) {
          res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`fault proxy hook failed: ${String(err)}`);
          pending -= 1;
          return;
        }
        const forward = http.request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('end', () => (pending -= 1));
          },
        );
        forward.on('error', (err) => {
          res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`moto unreachable: ${err.message}`);
          pending -= 1;
        });
        forward.end(body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    inFlight: () => pending,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
