/**
 * An HTTP proxy in front of moto_server's EC2 endpoint that produces what
 * moto cannot: capacity and limit errors worded as EC2's Query API words
 * them, throttling, slow or lost answers, and EC2's documented ClientToken
 * idempotency (a repeated token gets the original launch's answer, even after
 * that instance is terminated; moto ignores ClientToken).
 *
 * Point a worker at it with AWS_ENDPOINT_URL_EC2=<proxy.url>; every other
 * call passes through unchanged. Every EC2 call is logged, so a test can
 * assert the order of launch attempts.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncHandler } from './http-handler';

/** Errors EC2 returns from RunInstances when it cannot place an instance, with their HTTP status. */
export const EC2_ERRORS = {
  InsufficientInstanceCapacity: {
    status: 500,
    message: (type: string, zone: string) =>
      `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not specifying an Availability Zone in your request or choosing other Availability Zones.`,
  },
  Unsupported: {
    status: 400,
    message: (type: string, zone: string) =>
      `Your requested instance type (${type}) is not supported in your requested Availability Zone (${zone}). Please retry your request by not specifying an Availability Zone or choosing other Availability Zones.`,
  },
  InstanceLimitExceeded: {
    status: 400,
    message: (type: string) =>
      `You have requested more instances (1) than your current instance limit of 0 allows for the specified instance type (${type}). Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.`,
  },
  RequestLimitExceeded: { status: 503, message: () => 'Request limit exceeded.' },
  /** EC2's eventual consistency: an instance launched a moment ago is not visible to every call yet. */
  'InvalidInstanceID.NotFound': {
    status: 400,
    message: (_type: string, _zone: string, params?: URLSearchParams) =>
      `The instance ID '${params?.get('InstanceId.1') ?? 'unknown'}' does not exist`,
  },
} as const;

export type Ec2ErrorCode = keyof typeof EC2_ERRORS;

export interface Ec2Call {
  action: string;
  params: URLSearchParams;
  /** Epoch milliseconds when the call reached the proxy. */
  at: number;
  /** HTTP status answered, or 0 when the answer was dropped. */
  status: number;
  /** The EC2 error code answered by a rule, if any. */
  injected?: string;
  /** True when the answer was EC2's cached answer to an earlier call with the same ClientToken. */
  replayedClientToken?: boolean;
}

export interface Ec2FaultRule {
  /** The EC2 action, e.g. 'RunInstances', 'TerminateInstances'. */
  action: string;
  /** Narrows the rule to some calls (see `instanceTypeOf`, `subnetOf`). */
  match?: (params: URLSearchParams) => boolean;
  /** Answer with this EC2 error instead of forwarding. */
  error?: Ec2ErrorCode;
  /** The zone named in the error's message (EC2 names the requested zone). */
  zone?: string;
  /** Hold the call this long. With `error`, before answering; otherwise see `holdWhere`. */
  holdMs?: number;
  /** 'after' (default): the call reaches moto at once and its answer is held, as when EC2 acted but answers late. 'before': held before it reaches moto. */
  holdWhere?: 'before' | 'after';
  /** Forward the call, then close the connection without answering (the effect happened, the caller never learns). */
  dropAnswer?: boolean;
  /** Apply to this many matching calls, then stop applying (default: every matching call). */
  times?: number;
  /** Answer with this body (HTTP 200, EC2's XML) instead of forwarding: e.g. a DescribeInstances that does not show a fresh instance yet, as EC2's eventual consistency can. */
  answer?: string;
}

/** A DescribeInstances answer with no instances. */
export const EMPTY_DESCRIBE_INSTANCES =
  '<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>00000000-0000-0000-0000-000000000000</requestId><reservationSet/></DescribeInstancesResponse>';

export interface Ec2FaultProxy {
  /** http://127.0.0.1:<port>, for AWS_ENDPOINT_URL_EC2. */
  url: string;
  /** Every EC2 call seen, in arrival order. */
  calls: Ec2Call[];
  addRule(rule: Ec2FaultRule): void;
  clearRules(): void;
  /** The calls of one action, in arrival order. */
  callsOf(action: string): Ec2Call[];
  stop(): Promise<void>;
}

export const instanceTypeOf = (p: URLSearchParams): string | null => p.get('InstanceType');
export const subnetOf = (p: URLSearchParams): string | null =>
  p.get('SubnetId') ?? p.get('NetworkInterface.1.SubnetId');

export interface Ec2FaultProxyOptions {
  /** moto_server's endpoint, e.g. http://127.0.0.1:5000. */
  upstream: string;
  /** Reproduce EC2's ClientToken idempotency for RunInstances (default true). */
  clientTokenIdempotency?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function errorXml(code: string, message: string): string {
  const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${escaped}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
}

/** The parameters that identify a launch, for EC2's IdempotentParameterMismatch check. */
function launchFingerprint(params: URLSearchParams): string {
  return [...params.entries()]
    .filter(([k]) => k !== 'ClientToken')
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join('&');
}

export async function startEc2FaultProxy(options: Ec2FaultProxyOptions): Promise<Ec2FaultProxy> {
  const upstream = new URL(options.upstream);
  const idempotency = options.clientTokenIdempotency ?? true;
  const rules: Array<Ec2FaultRule & { applied: number }> = [];
  const calls: Ec2Call[] = [];
  const launches = new Map<
    string,
    { fingerprint: string; status: number; headers: http.IncomingHttpHeaders; body: Buffer }
  >();
  const sockets = new Set<import('node:net').Socket>();

  function forward(
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host, 'content-length': String(body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(body);
    });
  }

  function send(
    res: http.ServerResponse,
    status: number,
    headers: http.IncomingHttpHeaders,
    body: Buffer | string,
  ): void {
    const { 'transfer-encoding': _te, connection: _c, 'content-length': _cl, ...rest } = headers;
    res.writeHead(status, { ...rest, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  const server = http.createServer(
    asyncHandler(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const params = new URLSearchParams(body.toString('utf8'));
      const action = params.get('Action') ?? '';
      const call: Ec2Call = { action, params, at: Date.now(), status: 0 };
      calls.push(call);
      try {
        const rule = rules.find(
          (r) =>
            r.action === action &&
            (r.times === undefined || r.applied < r.times) &&
            (!r.match || r.match(params)),
        );
        if (rule) rule.applied += 1;

        if (rule?.error) {
          if (rule.holdMs) await sleep(rule.holdMs);
          const spec = EC2_ERRORS[rule.error];
          call.status = spec.status;
          call.injected = rule.error;
          send(
            res,
            spec.status,
            { 'content-type': 'text/xml;charset=UTF-8' },
            errorXml(
              rule.error,
              spec.message(instanceTypeOf(params) ?? 'unknown', rule.zone ?? 'the requested zone', params),
            ),
          );
          return;
        }

        if (rule?.answer !== undefined) {
          if (rule.holdMs) await sleep(rule.holdMs);
          call.status = 200;
          call.injected = 'answer';
          send(res, 200, { 'content-type': 'text/xml;charset=UTF-8' }, rule.answer);
          return;
        }

        const token = action === 'RunInstances' && idempotency ? params.get('ClientToken') : null;
        const earlier = token ? launches.get(token) : undefined;
        if (earlier) {
          // EC2 answers a repeated token with the original launch, whatever has happened to it since.
          if (earlier.fingerprint !== launchFingerprint(params)) {
            call.status = 400;
            call.injected = 'IdempotentParameterMismatch';
            send(
              res,
              400,
              { 'content-type': 'text/xml;charset=UTF-8' },
              errorXml(
                'IdempotentParameterMismatch',
                `The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.`,
              ),
            );
            return;
          }
          call.status = earlier.status;
          call.replayedClientToken = true;
          send(res, earlier.status, earlier.headers, earlier.body);
          return;
        }

        if (rule?.holdMs && rule.holdWhere === 'before') await sleep(rule.holdMs);
        const answer = await forward(req, body);
        if (token && answer.status === 200)
          launches.set(token, { fingerprint: launchFingerprint(params), ...answer });
        if (rule?.dropAnswer) {
          req.socket.destroy();
          return;
        }
        if (rule?.holdMs && rule.holdWhere !== 'before') await sleep(rule.holdMs);
        call.status = answer.status;
        send(res, answer.status, answer.headers, answer.body);
      } catch (err) {
        call.status = 502;
        if (!res.headersSent)
          send(res, 502, { 'content-type': 'text/plain' }, `ec2 fault proxy: ${String(err)}`);
      }
    }),
  );
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    addRule: (rule) => rules.push({ ...rule, applied: 0 }),
    clearRules: () => rules.splice(0, rules.length),
    callsOf: (action) => calls.filter((c) => c.action === action),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
