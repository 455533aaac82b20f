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
