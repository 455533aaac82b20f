/**
 * Room ACLs on Mosquitto 2 through its dynamic-security plugin: one role per player with literal
 * topics (`subscribeLiteral`, so any wildcard filter is refused with SUBACK 0x87; `%u` is not
 * substituted in 2.0.11), one client per player named by its certificate subject
 * (`use_subject_as_username`: a session cert's CN alone, the seat id, is not unique across
 * sessions). The host's client must hold a role that may publish `$CONTROL/dynamic-security/#`
 * (the scaffolded dynamic-security.json gives it one).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mqttError } from './errors.js';
import type { GrantSink } from './grants.js';
import type { MqttLink } from './link.js';

export const DYNSEC_TOPIC = '$CONTROL/dynamic-security/v1';

/** The username Mosquitto derives from a session certificate with `use_subject_as_username` (RFC 2253 order). */
export function mosquittoUsernameOf(organization: string, sessionId: string, playerId: string): string {
  return `CN=${playerId},OU=${sessionId},O=${organization}`;
}

function roleOf(sessionId: string, playerId: string): string {
  return `iyesmp-${createHash('sha256').update(`${sessionId}\0${playerId}`).digest('hex').slice(0, 32)}`;
}

export interface DynsecOptions {
  /** the session certificates' O (the PKI's organization) */
  organization: string;
  /** how long to wait for the plugin's answer (default 5 s) */
  timeoutMs?: number;
}

export function dynsecGrants(link: MqttLink, opts: DynsecOptions = { organization: 'iyesmp' }): GrantSink {
  const players = new Map<string, Set<string>>(); // sessionId -> playerIds with a role
  const kicked = new Set<string>(); // sessionId \0 playerId, until the session's clear
  const waiting = new Map<string, (r: { error?: string }[]) => void>();
  let subscribed: Promise<void> | undefined;
  link.on('message', (m) => {
    if (m.topic !== `${DYNSEC_TOPIC}/response`) return;
    try {
      const body = JSON.parse(Buffer.from(m.payload).toString('utf8')) as { responses?: { command: string; error?: string; correlationData?: string }[] };
      const rs = body.responses ?? [];
      for (const r of rs) {
        const done = r.correlationData && waiting.get(r.correlationData);
        if (done) {
          waiting.delete(r.correlationData!);
          done(rs);
        }
      }
    } catch {
      // not ours
    }
  });

  async function send(commands: Record<string, unknown>[]): Promise<void> {
    subscribed ??= link.subscribe([`${DYNSEC_TOPIC}/response`], 1);
    await subscribed;
    const id = randomUUID();
    commands[commands.length - 1]!.correlationData = id;
    const answered = new Promise<{ error?: string }[]>((resolve, reject) => {
      waiting.set(id, resolve);
      setTimeout(() => {
        waiting.delete(id);
        reject(mqttError('mqtt_dynsec_failed', `Mosquitto's dynamic-security plugin did not answer on ${DYNSEC_TOPIC}/response`));
      }, opts.timeoutMs ?? 5000).unref();
    });
    await link.publish(DYNSEC_TOPIC, new TextEncoder().encode(JSON.stringify({ commands })), { qos: 1, retain: false });
    await answered;
  }

  /** the ACLs each player's role holds now, so a new round changes only what differs */
  const held = new Map<string, Map<string, { acltype: string; topic: string }>>();
  const aclKey = (x: { acltype: string; topic: string }) => `${x.acltype} ${x.topic}`;

  return {
    async apply(cmds) {
      const commands: Record<string, unknown>[] = [];
      const drop = (sessionId: string, playerId: string) => {
        // deleting the client disconnects it: only when its session is over or it is revoked
        commands.push({ command: 'deleteClient', username: mosquittoUsernameOf(opts.organization, sessionId, playerId) });
        commands.push({ command: 'deleteRole', rolename: roleOf(sessionId, playerId) });
        held.delete(roleOf(sessionId, playerId));
      };
      for (const c of cmds) {
        if (c.op === 'grant') {
          if (kicked.has(`${c.sessionId}\0${c.playerId}`)) continue;
          const rolename = roleOf(c.sessionId, c.playerId);
          const want = new Map<string, { acltype: string; topic: string }>();
          for (const topic of c.grant.subscribe) {
            want.set(aclKey({ acltype: 'subscribeLiteral', topic }), { acltype: 'subscribeLiteral', topic });
            want.set(aclKey({ acltype: 'publishClientReceive', topic }), { acltype: 'publishClientReceive', topic });
          }
          for (const topic of c.grant.publish) want.set(aclKey({ acltype: 'publishClientSend', topic }), { acltype: 'publishClientSend', topic });
          // Mosquitto's ACLs cannot tell retained publishes apart; the turns host ignores retained moves
          const have = held.get(rolename);
          if (!have) {
            commands.push({ command: 'createRole', rolename, acls: [...want.values()].map((x) => ({ ...x, allow: true, priority: 0 })) });
            commands.push({ command: 'createClient', username: mosquittoUsernameOf(opts.organization, c.sessionId, c.playerId), roles: [{ rolename }] });
          } else {
            // add before remove: a player never loses a topic it keeps
            for (const [k, x] of want) if (!have.has(k)) commands.push({ command: 'addRoleACL', rolename, ...x, allow: true, priority: 0 });
            for (const [k, x] of have) if (!want.has(k)) commands.push({ command: 'removeRoleACL', rolename, ...x });
          }
          held.set(rolename, want);
          let s = players.get(c.sessionId);
          if (!s) players.set(c.sessionId, (s = new Set()));
          s.add(c.playerId);
        } else if (c.op === 'revoke' || c.op === 'kick') {
          // kick: deleting the client disconnects it; a certificate login still succeeds (Mosquitto
          // does not ask the plugin about certificate identities) but finds no topic granted
          if (players.get(c.sessionId)?.has(c.playerId)) drop(c.sessionId, c.playerId);
          players.get(c.sessionId)?.delete(c.playerId);
          if (c.op === 'kick') kicked.add(`${c.sessionId}\0${c.playerId}`);
        } else if (c.op === 'drop') {
          // deleting the client disconnects it (disableClient does not, in 2.0.11); made again at
          // once with its role, it may come back
          const username = mosquittoUsernameOf(opts.organization, c.sessionId, c.playerId);
          if (players.get(c.sessionId)?.has(c.playerId))
            commands.push({ command: 'deleteClient', username }, { command: 'createClient', username, roles: [{ rolename: roleOf(c.sessionId, c.playerId) }] });
        } else {
          for (const p of players.get(c.sessionId) ?? []) drop(c.sessionId, p);
          players.delete(c.sessionId);
          for (const k of [...kicked]) if (k.startsWith(`${c.sessionId}\0`)) kicked.delete(k);
        }
      }
      if (commands.length > 0) await send(commands);
    },
  };
}
