/**
 * Turn-based games over MQTT: the sans-IO protocol (topics, registrations, rounds, signed moves,
 * the host-signed log, challenges, optional encryption). No sockets here: turns-net's MQTT adapter
 * feeds `receive` and performs the returned actions. See docs/turns.md.
 */
export * from './errors.js';
export * from './topics.js';
export * from './types.js';
export * from './host.js';
export * from './player.js';
export * from './crypto.js';
export { Chain, TOPIC_HEX_CHARS, ZERO_HASH, type LivePlayer } from './log.js';
export { TURNS_PROTOCOL_VERSION, decodeOuter, type Outer } from './wire.js';
