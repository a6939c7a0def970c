/**
 * An HTTP proxy in front of moto that plays the host's side of SSM Run
 * Command, which moto cannot: moto finishes every command at once with empty
 * output. Each command sent through the proxy takes the next planned outcome
 * (still running, failed with some output, succeeded with some output) for
 * what GetCommandInvocation reports; a test can change a command's outcome
 * later (a running command finishing). Everything else passes through as is.
 * Loopback only, on a free port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncHandler } from './http-handler';

export interface InvocationOutcome {
  Status: 'InProgress' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';
  ResponseCode?: number;
  StandardOutputContent?: string;
  StandardErrorContent?: string;
}

export interface SsmInvocationProxy {
  url: string;
  /** Outcomes for the next commands sent, in order (a command with none keeps moto's answer). */
  plan(...outcomes: InvocationOutcome[]): void;
  /** Changes what a command reports from now on. */
  set(commandId: string, outcome: InvocationOutcome): void;
  /** Ids of the commands sent through the proxy, in order. */
  readonly sent: string[];
  /** The body of every request (the JSON the SDK sent), by X-Amz-Target operation. */
  readonly requests: Array<{ operation: string; body: string }>;
  close(): Promise<void>;
}

export async function ssmInvocationProxy(target: string): Promise<SsmInvocationProxy> {
  const planned: InvocationOutcome[] = [];
  const outcomes = new Map<string, InvocationOutcome>();
  const sent: string[] = [];
  const requests: Array<{ operation: string; body: string }> = [];
  const server = http.createServer(
    asyncHandler(async (req, res) => {
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '');
        requests.push({ operation, body: body.toString('utf8') });
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (
            typeof value === 'string' &&
            !['host', 'connection', 'content-length', 'transfer-encoding'].includes(name)
          )
            headers[name] = value;
        }
        const upstream = await fetch(`${target}${req.url ?? '/'}`, {
          method: req.method,
          headers,
          ...(body.length ? { body } : {}),
        });
        let text = await upstream.text();
        if (upstream.ok && operation === 'SendCommand') {
          const id = (JSON.parse(text) as { Command?: { CommandId?: string } }).Command?.CommandId;
          if (id) {
            sent.push(id);
            const next = planned.shift();
            if (next) outcomes.set(id, next);
          }
        }
        if (upstream.ok && operation === 'GetCommandInvocation') {
          const id = (JSON.parse(body.toString('utf8')) as { CommandId?: string }).CommandId;
          const outcome = id ? outcomes.get(id) : undefined;
          if (outcome)
            text = JSON.stringify({
              ...(JSON.parse(text) as object),
              ResponseCode: -1,
              StandardOutputContent: '',
              StandardErrorContent: '',
              ...outcome,
              StatusDetails: outcome.Status,
            });
        }
        res.writeHead(upstream.status, {
          'content-type': upstream.headers.get('content-type') ?? 'application/x-amz-json-1.1',
        });
        res.end(text);
      } catch (err) {
        res.writeHead(502);
        res.end(String(err));
      }
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    plan: (...outcomes) => planned.push(...outcomes),
    set: (id, outcome) => outcomes.set(id, outcome),
    sent,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
