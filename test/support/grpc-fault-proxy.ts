/**
 * A small gRPC (HTTP/2 cleartext) proxy in front of the Temporal dev server, on
 * loopback and a free port, that a test can break on purpose:
 * - answer chosen calls with a gRPC error instead of forwarding them (a frontend
 *   that is overloaded or briefly down, for one kind of call);
 * - hold every answer from the server, from a chosen call on, until released
 *   (a worker cut off from the server, or frozen, right after that call).
 * Every call is unary in Temporal's API, so a request is read whole, then
 * matched by method name and by bytes its protobuf message contains.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface CallMatch {
  /** The gRPC method, e.g. DescribeWorkflowExecution. */
  method: string;
  /** A string the request's protobuf body must contain (a workflow id, a signal name). */
  bodyIncludes?: string;
}

export interface InjectedError extends CallMatch {
  /** gRPC status code (4 DEADLINE_EXCEEDED, 14 UNAVAILABLE, ...). */
  code: number;
  message: string;
}

export interface GrpcFaultProxy {
  /** host:port to give a worker or client instead of the server's. */
  address: string;
  /** Calls answered so far with the injected error, per method. */
  readonly injected: Map<string, number>;
  /** Answers matching calls with this error from now on (undefined: forward everything again). */
  injectError(error: InjectedError | undefined): void;
  /** From the next matching call on (that call included), holds every answer from the server. */
  holdAnswersAfter(match: CallMatch): Promise<void>;
  /** Delivers the held answers, in order, and stops holding. */
  releaseAnswers(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

function forwardable(headers: http2.IncomingHttpHeaders, keepPseudo: string[]): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name.startsWith(':') && !keepPseudo.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The protobuf bytes of a gRPC request body: length-prefixed messages, each gzip-compressed when its flag says so. */
function messages(body: Buffer, encoding: string | undefined): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at + 5 <= body.length;) {
    const compressed = body[at] === 1;
    const length = body.readUInt32BE(at + 1);
    const message = body.subarray(at + 5, at + 5 + length);
    out.push(compressed && encoding === 'gzip' ? gunzipSync(message) : message);
    at += 5 + length;
  }
  return Buffer.concat(out);
}

function matches(match: CallMatch, method: string, message: Buffer): boolean {
  return (
    match.method === method && (match.bodyIncludes === undefined || message.includes(match.bodyIncludes))
  );
}

export async function startGrpcFaultProxy(upstreamAddress: string): Promise<GrpcFaultProxy> {
  let upstream: http2.ClientHttp2Session | undefined;
  const session = () => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect(`http://${upstreamAddress}`);
      upstream.on('error', () => undefined); // each call reports its own failure
    }
    return upstream;
  };

  let error: InjectedError | undefined;
  const injected = new Map<string, number>();
  let holdAfter: { match: CallMatch; armed: () => void } | undefined;
  let holding = false;
  const held: (() => void)[] = [];
  /** Answers from the server go through here, so that holding keeps their order. */
  const deliver = (step: () => void) => (holding ? held.push(step) : step());

  const server = http2.createServer();
  const clients = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    clients.add(s);
    s.on('close', () => clients.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const method =
      String(headers[':path'] ?? '')
        .split('/')
        .pop() ?? '';
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const message = messages(body, headers['grpc-encoding'] as string | undefined);
      if (error && matches(error, method, message)) {
        injected.set(method, (injected.get(method) ?? 0) + 1);
        if (!stream.destroyed) {
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': String(error.code),
              'grpc-message': encodeURIComponent(error.message),
            },
            { endStream: true },
          );
        }
        return;
      }
      if (holdAfter && matches(holdAfter.match, method, message)) {
        holding = true;
        holdAfter.armed();
        holdAfter = undefined;
      }
      let request: http2.ClientHttp2Stream;
      try {
        request = session().request(forwardable(headers, [':method', ':path']));
      } catch {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      let trailers: http2.IncomingHttpHeaders | undefined;
      let trailersOnly = false;
      request.on('response', (answer) => {
        trailersOnly = answer['grpc-status'] !== undefined;
        deliver(() => {
          if (stream.destroyed) return;
          stream.respond(
            forwardable(answer, [':status']),
            trailersOnly ? { endStream: true } : { waitForTrailers: true },
          );
        });
      });
      request.on('data', (chunk: Buffer) => deliver(() => !stream.destroyed && stream.write(chunk)));
      request.on('trailers', (t) => {
        trailers = t;
      });
      request.on('end', () =>
        deliver(() => {
          if (trailersOnly || stream.destroyed || stream.closed) return;
          stream.once('wantTrailers', () =>
            stream.sendTrailers(forwardable(trailers ?? { 'grpc-status': '0' }, [])),
          );
          stream.end();
        }),
      );
      request.on('error', () =>
        deliver(() => !stream.destroyed && stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)),
      );
      // The caller gave up (a poll cancelled at shutdown): so does the server.
      stream.on('close', () => {
        if (!request.closed) request.close(http2.constants.NGHTTP2_CANCEL);
      });
      request.end(body);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    injected,
    injectError(next) {
      error = next;
    },
    holdAnswersAfter(match) {
      return new Promise<void>((armed) => {
        holdAfter = { match, armed };
      });
    },
    releaseAnswers() {
      holding = false;
      for (const step of held.splice(0)) step();
    },
    async close() {
      holding = false;
      held.length = 0;
      for (const s of clients) s.destroy();
      upstream?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
