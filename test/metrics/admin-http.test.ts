import { connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCodeOf } from '../../src/errors.js';
import { createRegistry, LabelBound, METRICS_ERRORS, startAdminHttp, type AdminHttp } from '../../src/metrics/index.js';
import { counter } from '../../src/metrics/registry.js';

const open: AdminHttp[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
});

async function start(ready: () => Record<string, { ok: boolean; detail?: string }> = () => ({ listening: { ok: true } })) {
  const registry = createRegistry();
  const a = await startAdminHttp({ listen: '127.0.0.1:0', registry, ready });
  open.push(a);
  return { a, registry, base: `http://${a.address}` };
}

/** A raw request, for what fetch will not send (a body on GET). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(text));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

describe('admin HTTP listener', () => {
  it('serves the registry as Prometheus text, with process metrics, and keeps registries apart', async () => {
    const one = await start();
    const two = await start();
    counter(one.registry, 'iyesmp_test_things_total', 'things').inc(3);
    const r = await fetch(`${one.base}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    expect(text).toMatch(/^iyesmp_test_things_total 3$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    // the other server's registry has its own metrics only
    expect(await (await fetch(`${two.base}/metrics`)).text()).not.toContain('iyesmp_test_things_total');
  });

  it('/healthz answers while the process runs; /readyz is 503 until every check passes, and says which failed', async () => {
    let linked = false;
    const { base } = await start(() => ({ listening: { ok: true }, auth_link: { ok: linked, detail: linked ? 'up' : 'no Auth server' } }));
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok' });
    const r1 = await fetch(`${base}/readyz`);
    expect(r1.status).toBe(503);
    expect(await r1.json()).toEqual({ status: 'not ready', checks: { listening: { ok: true }, auth_link: { ok: false, detail: 'no Auth server' } } });
    linked = true;
    const r2 = await fetch(`${base}/readyz`);
    expect(r2.status).toBe(200);
    expect(((await r2.json()) as { status: string }).status).toBe('ready');
  });

  it('is read-only and bounded: other methods 405, bodies 413, unknown paths 404, HEAD has no body', async () => {
    const { a, base } = await start();
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${base}/metrics`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(`${base}/admin`)).status).toBe(404);
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const withBody = await raw(a.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    expect(withBody).toMatch(/^HTTP\/1\.1 413/);
    // headers past the size limit are refused by the parser, not read
    const huge = await raw(a.port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431|^$/);
    // and it still serves
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('names the key and the reason when it cannot listen: a bad address, a port in use', async () => {
    const registry = createRegistry();
    const ready = () => ({});
    const bad = await startAdminHttp({ listen: 'not an address', registry, ready }).catch((e: unknown) => e);
    expect(hasCodeOf(bad, METRICS_ERRORS) && bad.code).toBe('admin_http_address');
    expect((bad as Error).message).toContain('admin_http.listen = "not an address"');

    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const err = await startAdminHttp({ listen: `127.0.0.1:${port}`, registry, ready, key: '--admin-http' }).catch((e: unknown) => e);
      expect(hasCodeOf(err, METRICS_ERRORS) && err.code).toBe('admin_http_listen');
      expect((err as Error).message).toBe(
        `--admin-http = "127.0.0.1:${port}": cannot listen: the address is in use (another server, or a second instance with the same config)`,
      );
      expect((err as { kind: string }).kind).toBe('io');
    } finally {
      busy.close();
    }
  });

  it('bounds labels that peers choose: past the limit, or malformed, they count as "other"', () => {
    const b = new LabelBound(2);
    expect([b.of('a'), b.of('b'), b.of('c'), b.of('a'), b.of('x y'), b.of(undefined)]).toEqual(['a', 'b', 'other', 'a', 'other', 'other']);
  });
});
