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
      for (const c of cmds) await link.publish(CONTROL_TOPIC, new TextEncoder().encode(JSON.stringify(c)), { qos: 2, retain: false });
    },
  };
}
