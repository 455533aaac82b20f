// The embedded broker against real mqtt.js clients over mutual TLS: identity from the certificate,
// literal grants only, no wildcards, no $ topics, client id bound to the seat, bounded packets and
// publish rate.
import { connect, type MqttClient } from 'mqtt';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/mqtt/broker.js';
import { brokerClientIdOf } from '../../src/mqtt/acl.js';
import { controlTopicGrants } from '../../src/mqtt/grants.js';
import { devPki, type DevPki } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

let dev: DevPki;
let broker: EmbeddedBroker;
let ca: string;
const clients: MqttClient[] = [];

async function seatCert(sessionId: string, playerId: string) {
  const minter = await dev.pki.sessionMinter();
  const m = await minter.mintWithNewKey({ sessionId, playerId });
  return { cert: m.certPem + m.issuerPem, key: m.privateKeyPem };
}

async function connectAs(creds: { cert: string; key: string }, clientId: string, extra: object = {}) {
  const c = connect(broker.url(), { ...creds, ca, clientId, rejectUnauthorized: true, servername: 'localhost', reconnectPeriod: 0, ...extra });
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
  c.on('error', () => undefined);
  return c;
}

/** The QoS the broker granted, 128 when refused. */
async function subAck(c: MqttClient, filter: string): Promise<number> {
  return new Promise((resolve) => c.subscribe(filter, { qos: 1 }, (e, granted) => resolve(e ? 128 : (granted?.[0]?.qos ?? 128))));
}

async function seat(sessionId: string, playerId: string) {
  return connectAs(await seatCert(sessionId, playerId), brokerClientIdOf(sessionId, playerId));
}

beforeAll(async () => {
  dev = await devPki('iyesmp-broker-');
  ca = await dev.pki.chainPem('master');
  broker = await EmbeddedBroker.start({
    cert: await dev.pki.chainPem('host-1'),
    key: await readFile(dev.pki.path(dev.pki.get('host-1').keyFile!), 'utf8'),
    verifier: await dev.pki.verifier(),
    publicHost: 'localhost',
    maxPacketBytes: 4096,
    maxPerAddress: 20,
    acl: { publishRate: 5, publishBurst: 10 },
  });
}, 30_000);

afterAll(async () => {
  for (const c of clients) await c.endAsync(true).catch(() => undefined);
  await broker?.close();
  await dev?.cleanup();
});

describe('embedded broker', () => {
  it('grants a player only its literal topics: wildcards, other topics and $ topics are refused', async () => {
    await broker.grant({ op: 'grant', sessionId: 's1', playerId: 'alice', grant: { subscribe: ['game/r1/t-abc'], publish: ['game/r1/t-abc'] } });
    const alice = await seat('s1', 'alice');
    expect(await subAck(alice, 'game/r1/t-abc')).toBe(1);
    for (const f of ['game/#', 'game/r1/+', '#', '$SYS/#', '$CONTROL/iyesmp/v1', 'game/r1/t-other']) {
      expect(await subAck(alice, f), f).toBe(128);
    }
  });

  it('a valid session cert of another session reads nothing of the room', async () => {
    const host = await connectAs(
      { cert: await dev.pki.chainPem('host-1'), key: await readFile(dev.pki.path(dev.pki.get('host-1').keyFile!), 'utf8') },
      'host-1',
    );
    const bob = await seat('s1', 'bob'); // no grant for bob yet
    const eve = await seat('s2', 'eve');
    const seen: string[] = [];
    eve.on('message', (t) => seen.push(t));
    expect(await subAck(eve, 'game/r1/t-abc')).toBe(128);
    expect(await subAck(eve, 'game/#')).toBe(128);
    expect(await subAck(bob, 'game/r1/t-abc')).toBe(128);
    await host.publishAsync('game/r1/t-abc', 'round', { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
  });

  it('the host delivers to a granted player, and a revoked grant stops delivery', async () => {
    await broker.grant({ op: 'grant', sessionId: 's3', playerId: 'carol', grant: { subscribe: ['game/r3/a'], publish: [] } });
    const host = await connectAs(
      { cert: await dev.pki.chainPem('host-1'), key: await readFile(dev.pki.path(dev.pki.get('host-1').keyFile!), 'utf8') },
      'host-1b',
    );
    const carol = await seat('s3', 'carol');
    const got: string[] = [];
    carol.on('message', (_t, p) => got.push(p.toString()));
    expect(await subAck(carol, 'game/r3/a')).toBe(1);
    await host.publishAsync('game/r3/a', 'one', { qos: 1 });
    await pollUntil(() => got.length === 1, 'first message');
    await broker.grant({ op: 'clear', sessionId: 's3' });
    await host.publishAsync('game/r3/a', 'two', { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(['one']);
  });

  it('refuses a seat connecting under another client id (no take-over of a seat)', async () => {
    const creds = await seatCert('s4', 'dave');
    await expect(connectAs(creds, brokerClientIdOf('s4', 'erin'))).rejects.toThrow();
    await expect(connectAs(creds, 'anything')).rejects.toThrow();
  });

  it('refuses a client without a certificate of this PKI', async () => {
    const other = await devPki('iyesmp-broker-other-');
    try {
      const m = await (await other.pki.sessionMinter()).mintWithNewKey({ sessionId: 's1', playerId: 'alice' });
      await expect(connectAs({ cert: m.certPem + m.issuerPem, key: m.privateKeyPem }, brokerClientIdOf('s1', 'alice'))).rejects.toThrow();
    } finally {
      await other.cleanup();
    }
  });

  it('disconnects a player publishing off its grant, retained where not allowed, too fast, or too large', async () => {
    await broker.grant({
      op: 'grant',
      sessionId: 's5',
      playerId: 'p',
      grant: { subscribe: [], publish: ['game/r5/m', 'game/r5/reg'], retain: ['game/r5/reg'] },
    });
    const closed = async (act: (c: MqttClient) => Promise<unknown>) => {
      const c = await seat('s5', 'p');
      const gone = new Promise<void>((r) => c.once('close', () => r()));
      // a refused publish leaves its promise pending (the client does not reconnect): wait for the close
      act(c).catch(() => undefined);
      await gone;
    };
    await closed((c) => c.publishAsync('game/r5/other', 'x', { qos: 1 }));
    await closed((c) => c.publishAsync('game/r5/m', 'x', { qos: 1, retain: true }));
    await closed((c) => c.publishAsync('game/r5/m', Buffer.alloc(8000), { qos: 1 }));
    // retained on its own registration topic is fine
    const ok = await seat('s5', 'p');
    await ok.publishAsync('game/r5/reg', 'keys', { qos: 1, retain: true });
    await ok.publishAsync('game/r5/reg', '', { qos: 1, retain: true });
    await ok.endAsync();
    await closed(async (c) => {
      for (let i = 0; i < 40; i++) await c.publishAsync('game/r5/m', `${i}`, { qos: 1 });
    });
  });
});

describe('embedded broker: kick and drop', () => {
  it("a kick disconnects the seat's client, takes its grant and refuses its reconnects until the session's clear", async () => {
    const grant = { subscribe: ['game/r6/a'], publish: ['game/r6/a'] };
    await broker.grant({ op: 'grant', sessionId: 's6', playerId: 'kim', grant });
    await broker.grant({ op: 'grant', sessionId: 's6', playerId: 'lee', grant });
    const creds = await seatCert('s6', 'kim');
    const kim = await connectAs(creds, brokerClientIdOf('s6', 'kim'));
    const lee = await seat('s6', 'lee');
    expect(await subAck(kim, 'game/r6/a')).toBe(1);
    const gone = new Promise<void>((r) => kim.once('close', () => r()));
    await broker.grant({ op: 'kick', sessionId: 's6', playerId: 'kim' });
    await gone;
    expect(broker.acl.grantsOf('s6')).toEqual(['lee']);
    // its certificate is still valid: the broker refuses the seat itself
    await expect(connectAs(creds, brokerClientIdOf('s6', 'kim'))).rejects.toThrow();
    // a late grant (a round already on its way) does not bring it back
    await broker.grant({ op: 'grant', sessionId: 's6', playerId: 'kim', grant });
    expect(broker.acl.grantsOf('s6')).toEqual(['lee']);
    // the other seat is untouched
    expect(lee.connected).toBe(true);
    expect(await subAck(lee, 'game/r6/a')).toBe(1);
    // the session's end forgets the kick (seat ids are per session)
    await broker.grant({ op: 'clear', sessionId: 's6' });
    expect(broker.acl.isKicked('s6', 'kim')).toBe(false);
  });

  it('a drop disconnects the client and keeps its grant: it may come back', async () => {
    await broker.grant({ op: 'grant', sessionId: 's7', playerId: 'max', grant: { subscribe: ['game/r7/a'], publish: [] } });
    const creds = await seatCert('s7', 'max');
    const max = await connectAs(creds, brokerClientIdOf('s7', 'max'));
    const gone = new Promise<void>((r) => max.once('close', () => r()));
    await broker.grant({ op: 'drop', sessionId: 's7', playerId: 'max' });
    await gone;
    const back = await connectAs(creds, brokerClientIdOf('s7', 'max'));
    expect(await subAck(back, 'game/r7/a')).toBe(1);
  });

  it('a kick sent on the control topic by a host identity (what `serve broker` gets) works the same', async () => {
    await broker.grant({ op: 'grant', sessionId: 's8', playerId: 'ned', grant: { subscribe: ['game/r8/a'], publish: [] } });
    const creds = await seatCert('s8', 'ned');
    const ned = await connectAs(creds, brokerClientIdOf('s8', 'ned'));
    const host = await connectAs(
      { cert: await dev.pki.chainPem('host-1'), key: await readFile(dev.pki.path(dev.pki.get('host-1').keyFile!), 'utf8') },
      'host-1c',
    );
    const gone = new Promise<void>((r) => ned.once('close', () => r()));
    const link = {
      publish: (t: string, p: Uint8Array, o: { qos: 0 | 1 | 2; retain: boolean }) => host.publishAsync(t, Buffer.from(p), o).then(() => undefined),
    };
    await controlTopicGrants(link as never).apply([{ op: 'kick', sessionId: 's8', playerId: 'ned' }]);
    await gone;
    expect(broker.acl.grantsOf('s8')).toEqual([]);
    await expect(connectAs(creds, brokerClientIdOf('s8', 'ned'))).rejects.toThrow();
  });
});
