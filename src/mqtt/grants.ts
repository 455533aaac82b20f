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
      // one message per 64 commands: a round's grants for every player arrive (and apply) together
      for (let i = 0; i < cmds.length; i += 64)
        await link.publish(CONTROL_TOPIC, new TextEncoder().encode(JSON.stringify(cmds.slice(i, i + 64))), { qos: 2, retain: false });
    },
  };
}
