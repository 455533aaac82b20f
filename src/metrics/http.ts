import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { formatHostPort, parseEndpoint } from '../net/address.js';
import { metricsError } from './errors.js';

/**
 * The admin HTTP listener of a server: `GET /metrics` (Prometheus text, the server's own registry),
 * `GET /healthz` (the process answers) and `GET /readyz` (the server can do its job: every check
 * passes). Loopback unless configured otherwise; read-only; bounded: GET/HEAD only, no request
 * bodies, small headers, short timeouts and a cap on connections, so a scanner cannot hold it.
 */
export interface ReadyCheck {
  ok: boolean;
  detail?: string;
}

export interface AdminHttpOptions {
  /** `host:port`; port 0 picks a free one */
  listen: string;
  registry: Registry;
  /** the readiness checks by name, evaluated on each /readyz */
  ready: () => Record<string, ReadyCheck> | Promise<Record<string, ReadyCheck>>;
  /** the key the address came from, for error messages (default "admin_http.listen") */
  key?: string;
  maxConnections?: number;
}

export interface AdminHttp {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

const LIMITS = { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveMs: 5_000, maxHeaderSize: 8 * 1024, maxHeadersCount: 32 };

export async function startAdminHttp(o: AdminHttpOptions): Promise<AdminHttp> {
  const key = o.key ?? 'admin_http.listen';
  const ep = parseListen(o.listen);
  if (!ep) throw metricsError('admin_http_address', `${key} = "${o.listen}": expected "host:port" (IPv6 as "[::1]:9464"; port 0 picks a free one)`);
  const started = Date.now();
  const server: Server = createServer({ maxHeaderSize: LIMITS.maxHeaderSize, requestTimeout: LIMITS.requestTimeoutMs }, (req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  server.headersTimeout = LIMITS.headersTimeoutMs;
  server.keepAliveTimeout = LIMITS.keepAliveMs;
  server.maxHeadersCount = LIMITS.maxHeadersCount;
  server.maxConnections = o.maxConnections ?? 64;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain', 'only GET and HEAD\n');
    }
    // nothing here reads a body: one that is announced is refused, not drained
    if ((req.headers['content-length'] && req.headers['content-length'] !== '0') || req.headers['transfer-encoding']) {
      res.setHeader('Connection', 'close');
      return send(res, 413, 'text/plain', 'no request body expected\n');
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    switch (path) {
      case '/metrics':
        return send(res, 200, o.registry.contentType, await o.registry.metrics());
      case '/healthz':
        return send(res, 200, 'application/json', `${JSON.stringify({ status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000) })}\n`);
      case '/readyz': {
        const checks = await o.ready();
        const ready = Object.values(checks).every((c) => c.ok);
        return send(res, ready ? 200 : 503, 'application/json', `${JSON.stringify({ status: ready ? 'ready' : 'not ready', checks })}\n`);
      }
      default:
        return send(res, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'the address is in use (another server, or a second instance with the same config)'
          : err.code === 'EADDRNOTAVAIL'
            ? 'it is not an address of this machine'
            : err.code === 'EACCES'
              ? 'permission denied (ports below 1024 need privileges)'
              : (err.code ?? err.message);
      reject(
        metricsError('admin_http_listen', `${key} = "${o.listen}": cannot listen: ${why}`, {
          hint: `pick another address in [admin_http] listen, or turn the listener off with [admin_http] enabled = false`,
          cause: err,
        }),
      );
    });
    server.listen({ host: ep.host, port: ep.port }, () => resolve());
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  const addr = server.address() as AddressInfo;
  return {
    address: formatHostPort(addr.address, addr.port),
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** `host:port` to bind; unlike a dialled address, port 0 (any free port) is allowed. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const zero = /:0$/.test(text);
  const r = parseEndpoint(zero ? `${text.slice(0, -2)}:1` : text);
  return r.ok ? { host: r.value.host, port: zero ? 0 : r.value.port } : undefined;
}
