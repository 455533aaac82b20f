import { CONTROL_TOPIC, type GrantCommand } from './acl.js';
import type { MqttLink } from './link.js';

/** Where the host sends each room's ACL: the embedded broker's control topic, or Mosquitto's dynamic security. */
export interface GrantSink {
  /** resolves once the broker enforces them (what follows may rely on it) */
  apply(cmds: readonly GrantCommand[]): Promise<void>;
}

/**
 * Grants for iyesmp's embedded broker (one node or several on Redis) on `$CONTROL/iyesmp/v1`, QoS 2:
 * aedes answers PUBREC only once the message went through the broker (the grant is applied), while
 * its PUBACK for QoS 1 goes out before, so a player could see a new round before its grant.
 */
export function controlTopicGrants(link: MqttLink): GrantSink {
  return {
    async apply(cmds) {
      const send = async (list: readonly GrantCommand[]) => {
        // one message per 64 commands: a round's grants for every player arrive (and apply) together
        for (let i = 0; i < list.length; i += 64)
          await link.publish(CONTROL_TOPIC, new TextEncoder().encode(JSON.stringify(list.slice(i, i + 64))), { qos: 2, retain: false });
      };
      if (!cmds.some((c) => c.op === 'kick' || c.op === 'drop')) return send(cmds);
      // a broker older than kick and drop ignores a whole message holding one: the revoke goes
      // alone first, so such a broker still takes the seat's topics away
      await send(cmds.filter((c) => c.op !== 'drop').map((c) => (c.op === 'kick' ? { op: 'revoke', sessionId: c.sessionId, playerId: c.playerId } : c)));
      await send(cmds.filter((c) => c.op === 'kick' || c.op === 'drop'));
    },
  };
}
