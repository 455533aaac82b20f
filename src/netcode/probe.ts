import { formatAddress } from './address.js';
import { ClientState, type NetcodeVersion, clientStateName } from './constants.js';
import { randomBytes } from './sodium.js';
import { NetcodeUdpClient } from './udp.js';

export interface ProbeResult {
  ok: boolean;
  /** Final state reached while connecting (snake case), e.g. "connected" or "connection_denied". */
  state: string;
  /** Every state the client went through, in order. */
  states: string[];
  server?: string;
  clientIndex?: number;
  maxClients?: number;
  sent: number;
  echoed: number;
  rttMs: number[];
  error?: string;
}

/**
 * Connects with a token, sends `count` random payloads to an echo server one at a time, checks each
 * echo byte for byte and measures round trips. Bounded by `timeoutMs` per phase (connect, each echo).
 */
export async function probeServer(
  token: Uint8Array,
  o: { count: number; timeoutMs: number; payloadBytes?: number; version?: NetcodeVersion },
): Promise<ProbeResult> {
  const client = new NetcodeUdpClient(o.version ? { version: o.version } : {});
  const states: string[] = [];
  client.on('state', (s) => states.push(clientStateName(s)));
  const r: ProbeResult = { ok: false, state: 'disconnected', states, sent: 0, echoed: 0, rttMs: [] };
  try {
    client.connect(token);
    let state: number;
    try {
      state = await client.waitUntilSettled(o.timeoutMs);
    } catch {
      state = client.state;
      r.error = `no answer within ${o.timeoutMs} ms (still ${clientStateName(state)})`;
    }
    r.state = clientStateName(state);
    r.server = client.core.serverAddress ? formatAddress(client.core.serverAddress) : undefined;
    if (state !== ClientState.connected) {
      r.error ??= `connection failed: ${clientStateName(state)}`;
      return r;
    }
    r.clientIndex = client.core.clientIndex;
    r.maxClients = client.core.maxClients;
    for (let i = 0; i < o.count; i++) {
      const payload = randomBytes(o.payloadBytes ?? 64);
      const started = performance.now();
      const echoed = new Promise<Uint8Array | undefined>((resolve) => {
        const timer = setTimeout(() => done(undefined), o.timeoutMs);
        const onPayload = (p: Uint8Array): void => {
          if (Buffer.compare(p, payload) === 0) done(p);
        };
        const onState = (s: number): void => {
          if (s !== ClientState.connected) done(undefined);
        };
        const done = (p: Uint8Array | undefined): void => {
          clearTimeout(timer);
          client.off('payload', onPayload);
          client.off('state', onState);
          resolve(p);
        };
        client.on('payload', onPayload);
        client.on('state', onState);
      });
      if (!client.sendPayload(payload)) break;
      r.sent++;
      if (!(await echoed)) {
        r.state = clientStateName(client.state);
        r.error = client.state === ClientState.connected ? `payload ${i + 1} was not echoed within ${o.timeoutMs} ms` : `lost the connection: ${r.state}`;
        return r;
      }
      r.echoed++;
      r.rttMs.push(Math.round((performance.now() - started) * 1000) / 1000);
    }
    r.ok = true;
    return r;
  } finally {
    await client.close();
  }
}
