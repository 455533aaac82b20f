/**
 * The ways a player reaches a Host server after hand-off. Every schema, config key and switch over
 * transports reads this list, so adding one (as MQTT was) is one edit here plus its schema members.
 */
export const HOST_TRANSPORT_KINDS = ['quic', 'netcode', 'mqtt'] as const;
export type HostTransportKind = (typeof HOST_TRANSPORT_KINDS)[number];

export function isHostTransportKind(x: unknown): x is HostTransportKind {
  return (HOST_TRANSPORT_KINDS as readonly unknown[]).includes(x);
}
