import { createHmac } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasCodeOf } from '../../src/errors.js';
import { RESULTS_ERRORS } from '../../src/results/errors.js';
import { readWebhookSecret, signWebhook, verifyWebhook, WebhookSink, type WebhookOptions } from '../../src/results/webhook.js';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');

/** A real local receiver whose answer the test sets; it records every request. */
class Receiver {
  status = 200;
  readonly got: Array<{ id: string; body: string; signature: string; attempt: string }> = [];
  server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.got.push({
          id: String(req.headers['x-iyesmp-id']),
          body,
          signature: String(req.headers['x-iyesmp-signature']),
          attempt: String(req.headers['x-iyesmp-attempt']),
        });
        res.writeHead(this.status).end('ok');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let dir: string;
let rx: Receiver;
const sinks: WebhookSink[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-webhook-'));
  rx = await new Receiver().start();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await rx.close();
  await rm(dir, { recursive: true, force: true });
});

async function open(o: Partial<WebhookOptions> = {}): Promise<WebhookSink> {
  const s = await WebhookSink.open({ url: rx.url, secret: SECRET, queueDir: path.join(dir, 'q'), initialDelayMs: 20, maxDelayMs: 100, ...o });
  sinks.push(s);
  return s;
}

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const queued = async () => (await readdir(path.join(dir, 'q'))).filter((n) => n.endsWith('.json'));
const setAside = async () => readdir(path.join(dir, 'q', 'failed'));

describe('results webhook', () => {
  it('signs the exact body with HMAC-SHA256 over "<t>.<body>", which a receiver can check', async () => {
    const s = await open();
    await s.enqueue('session-1', 'session.ended', { score: 3 });
    await until('a delivery', () => s.stats.delivered === 1);
    const g = rx.got[0]!;
    expect(JSON.parse(g.body)).toMatchObject({ id: 'session-1', type: 'session.ended', data: { score: 3 } });
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(g.signature)!;
    // the receiver's own computation, as docs/operations.md shows it
    expect(createHmac('sha256', SECRET).update(`${t}.${g.body}`).digest('hex')).toBe(v1);
    expect(verifyWebhook(SECRET, g.signature, g.body, Number(t))).toBe(true);
    expect(verifyWebhook(SECRET, g.signature, `${g.body} `, Number(t))).toBe(false); // any change to the body
    expect(verifyWebhook(SECRET, g.signature, g.body, Number(t) + 301)).toBe(false); // a replay, 5 min later
    expect(verifyWebhook(SECRET, signWebhook(Buffer.from('x'.repeat(32)), Number(t), g.body), g.body, Number(t))).toBe(false);
    expect(await queued()).toEqual([]);
  });

  it('retries with backoff until the receiver answers 2xx, with the same id and body each time', async () => {
    rx.status = 500;
    const s = await open();
    await s.enqueue('session-2', 'session.ended', {});
    await until('three failed attempts', () => rx.got.length >= 3);
    rx.status = 204;
    await until('a delivery', () => s.stats.delivered === 1);
    expect(new Set(rx.got.map((g) => g.id))).toEqual(new Set(['session-2']));
    expect(new Set(rx.got.map((g) => g.body)).size).toBe(1);
    expect(rx.got.map((g) => g.attempt).slice(0, 3)).toEqual(['1', '2', '3']);
    expect(s.stats.failedAttempts).toBe(rx.got.length - 1);
  });

  it('keeps results on disk (0600) while the receiver is down, and delivers them after a restart', async () => {
    rx.status = 503;
    const first = await open();
    await first.enqueue('session-3', 'session.ended', { n: 1 });
    await first.enqueue('session-4', 'session.ended', { n: 2 });
    const files = await queued();
    expect(files).toHaveLength(2);
    expect((await stat(path.join(dir, 'q', files[0]!))).mode & 0o777).toBe(0o600);
    await until('a failed attempt', () => first.stats.failedAttempts >= 1);
    await first.close();
    const tried = rx.got.length;

    rx.status = 200;
    const second = await open();
    expect(second.stats.pending).toBe(2);
    await until('both delivered', () => second.stats.delivered === 2);
    expect(
      rx.got
        .slice(tried)
        .map((g) => g.id)
        .sort(),
    ).toEqual(['session-3', 'session-4']);
    expect(await queued()).toEqual([]);
  });

  it('sends an id once even when it is queued twice', async () => {
    const s = await open();
    await s.enqueue('session-5', 'session.ended', {});
    await s.enqueue('session-5', 'session.ended', {});
    await until('a delivery', () => s.stats.delivered === 1);
    await s.enqueue('session-5', 'session.ended', {});
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.got.map((g) => g.id)).toEqual(['session-5']);
  });

  it('sets a result aside in failed/ after max_attempts, and past max_pending, never dropping it silently', async () => {
    rx.status = 400;
    const s = await open({ maxAttempts: 2, maxPending: 1 });
    await s.enqueue('session-6', 'session.ended', {});
    await s.enqueue('session-7', 'session.ended', {}); // over max_pending: set aside at once
    await until('two set aside', () => s.stats.setAside === 2);
    expect(rx.got.map((g) => g.id)).toEqual(['session-6', 'session-6']);
    expect(await setAside()).toHaveLength(2);
    expect(await queued()).toEqual([]);
  });

  it('sets a damaged queue file aside at start instead of failing', async () => {
    const s0 = await open();
    await s0.close();
    await writeFile(path.join(dir, 'q', `${'a'.repeat(64)}.json`), '{"v":1, broken');
    const s = await open();
    expect(s.stats.pending).toBe(0);
    expect(await setAside()).toEqual([`${'a'.repeat(64)}.json`]);
  });

  it('refuses a missing or short secret file with the key, the file and what to do', async () => {
    const missing = await readWebhookSecret(path.join(dir, 'nope.secret')).catch((e: unknown) => e);
    expect(hasCodeOf(missing, RESULTS_ERRORS) && missing.code).toBe('webhook_secret');
    expect((missing as Error).message).toMatch(/^results\.webhook\.secret_file: cannot read .*nope\.secret \(no such file\)$/);
    expect((missing as { hint?: string }).hint).toMatch(/openssl rand -hex 32/);
    await writeFile(path.join(dir, 'short.secret'), 'too short\n');
    const short = await readWebhookSecret(path.join(dir, 'short.secret')).catch((e: unknown) => e);
    expect((short as Error).message).toMatch(/holds 9 bytes; a webhook secret needs at least 32/);
    await writeFile(path.join(dir, 'ok.secret'), `${SECRET.toString()}\n`);
    expect(Buffer.from(await readWebhookSecret(path.join(dir, 'ok.secret')))).toEqual(SECRET);
  });
});
