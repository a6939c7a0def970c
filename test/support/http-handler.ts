/**
 * An async request handler for `http.createServer`. Node does not await the
 * handler: a failure in it (a client that hung up mid-body, an upstream gone)
 * would be an unhandled rejection that fails whichever test runs then. Here it
 * ends that one request instead: a 502 if nothing was sent yet, else a reset.
 */
import type http from 'node:http';

export function asyncHandler(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
): http.RequestListener {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) res.destroy();
      else
        res.writeHead(502, { 'content-type': 'text/plain' }).end(`test http handler failed: ${String(err)}`);
    });
  };
}
