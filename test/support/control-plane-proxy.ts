/**
 * A small HTTP proxy in front of the reference control plane, for what it
 * cannot do on its own: a slow or failing call (a cluster DELETE held in
 * flight, or answered 503). Point a worker at it with RADIX_API_URL=<url>.
 * Every request is logged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncHandler } from './http-handler';

export interface ControlPlaneRule {
  method: string;
  path: RegExp;
  /** Hold the request this long before forwarding it (or answering `status`). */
  holdMs?: number;
  /** Answer with this status instead of forwarding. */
  status?: number;
  /** Apply to this many matching requests (default: all). */
  times?: number;
}

export interface ControlPlaneProxy {
  url: string;
  requests: Array<{ method: string; path: string; at: number }>;
  addRule(rule: ControlPlaneRule): void;
  clearRules(): void;
  stop(): Promise<void>;
}

export async function startControlPlaneProxy(upstream: string): Promise<ControlPlaneProxy> {
  const target = new URL(upstream);
  const rules: Array<ControlPlaneRule & { applied: number }> = [];
  const requests: ControlPlaneProxy['requests'] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer(
    asyncHandler(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const path = req.url ?? '/';
      requests.push({ method: req.method ?? 'GET', path, at: Date.now() });
      const rule = rules.find(
        (r) => r.method === req.method && r.path.test(path) && (r.times === undefined || r.applied < r.times),
      );
      if (rule) rule.applied += 1;
      if (rule?.holdMs) await new Promise((r) => setTimeout(r, rule.holdMs).unref());
      // A caller that went away meanwhile (its worker was killed): the request is lost, as on a real network.
      if (res.destroyed || req.socket.destroyed) return;
      if (rule?.status) {
        res.writeHead(rule.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `control plane proxy: answered ${rule.status}` }));
        return;
      }
      const out = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path,
          headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
      });
      out.end(body);
    }),
  );
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    addRule: (rule) => rules.push({ ...rule, applied: 0 }),
    clearRules: () => rules.splice(0, rules.length),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
