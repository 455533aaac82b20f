/**
 * One MQTT connection over mutual TLS (mqtt.js 5, MQTT 3.1.1 so embedded aedes and Mosquitto both
 * speak it): the certificate is the identity, the broker's certificate must chain to `ca`. The host
 * and the client library drive their turns machines through it: messages in, publishes and
 * subscriptions out, in order.
 */
import { connect as tlsConnect } from 'node:tls';
import { Duplex, PassThrough } from 'node:stream';
import type { IClientOptions, IStream, MqttClient } from 'mqtt';
import { TypedEmitter } from '../events/emitter.js';
import { mqttError } from './errors.js';

export interface MqttInbound {
  topic: string;
  payload: Uint8Array;
  retained: boolean;
}

export interface MqttLinkOptions {
  /** mqtts://host:port */
  url: string;
  /** our certificate chain and key (PEM) */
  cert: string;
  key: string;
  /** what the broker's certificate must chain to (PEM; the PKI's Master); or give `verify` */
  ca?: string;
  /**
   * Checks the broker's certificate chain (DER, leaf first) with the PKI's verifier instead of
   * `ca`: nothing is sent or read until it resolves with no refusal (a message, when refused).
   */
  verify?: (chain: Uint8Array[]) => Promise<string | undefined>;
  /** the name to check in the broker's certificate (default: the URL's host) */
  servername?: string;
  clientId: string;
  will?: { topic: string; payload: Uint8Array; qos: 0 | 1 | 2; retain: boolean };
  keepaliveSeconds?: number;
  /** reconnect after a lost connection, every this many ms (default 0: never) */
  reconnectMs?: number;
  connectTimeoutMs?: number;
  /**
   * Forget QoS 1/2 publishes still unacknowledged when the connection drops, instead of sending
   * them again after reconnecting (default false). A turns player sets it: after a reconnect it
   * resyncs and moves again, and an old move would only be refused as stale.
   */
  dropInFlightOnReconnect?: boolean;
  /**
   * Subscribe again to every topic by itself after a reconnection (default true). A turns player
   * sets false: it subscribes again itself, and must hear a refusal (mqtt.js would answer its own
   * subscribe to a topic it is resubscribing as granted, without asking the broker).
   */
  resubscribe?: boolean;
}

export interface MqttLinkEvents {
  message: MqttInbound;
  /** connected again after a loss (reconnectMs > 0) */
  reconnected: { sessionPresent: boolean };
  /** the connection is down (it may come back when reconnectMs > 0) */
  offline: { error?: Error };
  /**
   * The broker refused a reconnection for good (CONNACK "identifier rejected", "bad user name or
   * password" or "not authorized": a kicked seat on aedes). The link stops trying; it is closed.
   */
  refused: { returnCode: number; message: string };
}

/** CONNACK return codes (MQTT 3.1.1) that trying again cannot change; 1 and 3 may pass. */
const FINAL_REFUSALS = new Set([2, 4, 5]);

export class MqttLink extends TypedEmitter<MqttLinkEvents> {
  readonly #c: MqttClient;
  #refused = false;
  /** attempts to connect again since the first connection (successful or not) */
  reconnectAttempts = 0;

  private constructor(c: MqttClient, dropInFlight: boolean) {
    super();
    this.#c = c;
    if (dropInFlight) {
      c.on('close', () => {
        const outgoing = (c as unknown as { outgoing: Record<number, unknown> }).outgoing;
        for (const id of Object.keys(outgoing)) c.removeOutgoingMessage(Number(id));
      });
    }
    c.on('message', (topic, payload, packet) => this.emit('message', { topic, payload: new Uint8Array(payload), retained: packet.retain === true }));
    // made after the first CONNACK: every later one is a reconnection
    c.on('connect', (ack) => this.emit('reconnected', { sessionPresent: ack.sessionPresent === true }));
    c.on('offline', () => this.emit('offline', {}));
    c.on('reconnect', () => this.reconnectAttempts++);
    c.on('error', (e) => {
      // anything else is reported through 'offline'/'close' and tried again (reconnectMs > 0)
      const rc = (e as { code?: unknown }).code;
      if (typeof rc !== 'number' || !FINAL_REFUSALS.has(rc) || this.#refused) return;
      // mqtt.js would try again every reconnectMs, forever: a kicked client must not hammer the broker
      this.#refused = true;
      c.end(true);
      this.emit('refused', { returnCode: rc, message: e.message });
    });
  }

  static async connect(o: MqttLinkOptions): Promise<MqttLink> {
    const { connect, MqttClient } = await import('mqtt');
    const opts: IClientOptions = {
      cert: o.cert,
      key: o.key,
      ...(o.ca ? { ca: o.ca } : {}),
      rejectUnauthorized: true,
      ...(o.servername ? { servername: o.servername } : {}),
      clientId: o.clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: o.keepaliveSeconds ?? 30,
      reconnectPeriod: o.reconnectMs ?? 0,
      resubscribe: o.resubscribe ?? true,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      ...(o.will ? { will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: o.will.qos, retain: o.will.retain } } : {}),
    };
    const c = o.verify ? new MqttClient(verifiedStream(o, o.verify), { ...opts, ...urlParts(o.url) }) : connect(o.url, opts);
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (e?: Error) => {
          c.off('connect', ok);
          reject(e ?? new Error('the broker closed the connection before CONNACK (certificate or client id refused?)'));
        };
        const ok = () => {
          c.off('error', fail);
          c.off('close', fail);
          resolve();
        };
        c.once('connect', ok);
        c.once('error', fail);
        c.once('close', fail);
        setTimeout(() => fail(new Error(`no CONNACK within ${o.connectTimeoutMs ?? 10_000} ms`)), o.connectTimeoutMs ?? 10_000).unref();
      });
    } catch (e) {
      c.end(true);
      throw mqttError.as('io', 'mqtt_connect_failed', `cannot connect to the MQTT broker ${o.url}: ${(e as Error).message}`, { cause: e });
    }
    // small request/answer packets: no Nagle delay (mqtt.js leaves it on for TLS)
    (c.stream as { setNoDelay?: (v: boolean) => void } | undefined)?.setNoDelay?.(true);
    c.on('connect', () => (c.stream as { setNoDelay?: (v: boolean) => void } | undefined)?.setNoDelay?.(true));
    return new MqttLink(c, o.dropInFlightOnReconnect === true);
  }

  get connected(): boolean {
    return this.#c.connected;
  }

  async publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<void> {
    try {
      await this.#c.publishAsync(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), opts);
    } catch (e) {
      throw mqttError.as('io', 'mqtt_publish_failed', `publish to ${topic} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Subscribes; throws `mqtt_subscribe_refused` naming each filter the broker refused. */
  async subscribe(topics: readonly string[], qos: 0 | 1 | 2): Promise<void> {
    if (topics.length === 0) return;
    const refused = await new Promise<string[]>((resolve, reject) =>
      this.#c.subscribe([...topics], { qos }, (e, granted) => {
        if (e && !granted) return reject(e);
        // mqtt.js reports a refusal as an error (without saying which): ask the grants, or blame all
        const bad = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
        resolve(bad.length > 0 ? bad : e ? [...topics] : []);
      }),
    ).catch((e: Error) => {
      throw mqttError.as('refused', 'mqtt_subscribe_refused', `subscribe failed: ${e.message}`, { cause: e });
    });
    if (refused.length > 0) throw mqttError('mqtt_subscribe_refused', `the broker refused the subscription to ${refused.join(', ')}`);
  }

  async unsubscribe(topics: readonly string[]): Promise<void> {
    if (topics.length === 0 || !this.#c.connected) return;
    await this.#c.unsubscribeAsync([...topics]).catch(() => undefined);
  }

  /** Closes; `force` drops what is in flight (a crash, for tests: the will is published). */
  async end(force = false): Promise<void> {
    await this.#c.endAsync(force).catch(() => undefined);
  }

  /** Simulates a crash: the socket goes without DISCONNECT, so the broker publishes the will. */
  destroy(): void {
    (this.#c as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }
}

function urlParts(url: string): { host: string; port: number; protocol: 'mqtts' } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 8883, protocol: 'mqtts' };
}

/**
 * A TLS stream for mqtt.js whose both directions stay shut until `verify` accepted the broker's
 * chain: mqtt.js writes CONNECT at once, so without the gate it would reach an unchecked broker.
 */
function verifiedStream(o: MqttLinkOptions, verify: NonNullable<MqttLinkOptions['verify']>) {
  return () => {
    const { host, port } = urlParts(o.url);
    const socket = tlsConnect({ host, port, servername: o.servername ?? host, cert: o.cert, key: o.key, rejectUnauthorized: false });
    socket.setNoDelay(true);
    const inbound = new PassThrough();
    const outbound = new PassThrough();
    const stream = Duplex.from({ readable: inbound, writable: outbound });
    const fail = (e: Error) => {
      socket.destroy();
      stream.destroy(e);
    };
    socket.on('error', fail);
    socket.once('secureConnect', () => {
      const chain: Uint8Array[] = [];
      let cert = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        chain.push(new Uint8Array(cert.raw));
        cert = cert.issuerCertificate;
      }
      verify(chain).then(
        (refusal) => {
          if (refusal !== undefined) return fail(new Error(`the broker's certificate was refused: ${refusal}`));
          socket.pipe(inbound);
          outbound.pipe(socket);
        },
        (e: Error) => fail(e),
      );
    });
    socket.on('close', () => stream.destroy());
    stream.on('close', () => socket.destroy());
    return stream as unknown as IStream;
  };
}
