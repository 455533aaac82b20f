/** Sizes and identifiers fixed by netcode 1.02 (see docs/netcode.md and the STANDARD). */
export const VERSION_INFO = new Uint8Array([...Buffer.from('NETCODE 1.02', 'ascii'), 0]);
export const VERSION_INFO_BYTES = 13;
export const KEY_BYTES = 32;
export const MAC_BYTES = 16;
export const USER_DATA_BYTES = 256;
export const CONNECT_TOKEN_BYTES = 2048;
export const CONNECT_TOKEN_PRIVATE_BYTES = 1024;
export const CONNECT_TOKEN_NONCE_BYTES = 24;
export const CHALLENGE_TOKEN_BYTES = 300;
export const MAX_SERVERS_PER_CONNECT = 32;
export const MAX_PACKET_BYTES = 1300;
export const MAX_PAYLOAD_BYTES = 1200;
export const CONNECTION_REQUEST_BYTES = 1 + VERSION_INFO_BYTES + 8 + 8 + CONNECT_TOKEN_NONCE_BYTES + CONNECT_TOKEN_PRIVATE_BYTES; // 1078
export const PACKET_SEND_RATE = 10; // Hz
export const NUM_DISCONNECT_PACKETS = 10;
export const REPLAY_PROTECTION_BUFFER_SIZE = 256;
export const MAX_CONNECT_TOKEN_ENTRIES = 2048;
export const U64_MAX = (1n << 64n) - 1n;
/** The server's challenge/denied packets use a sequence counter that starts here (reference behaviour). */
export const GLOBAL_SEQUENCE_START = 1n << 63n;

export const PacketType = {
  connectionRequest: 0,
  connectionDenied: 1,
  connectionChallenge: 2,
  connectionResponse: 3,
  keepAlive: 4,
  payload: 5,
  disconnect: 6,
} as const;
export type PacketTypeValue = (typeof PacketType)[keyof typeof PacketType];
export const NUM_PACKET_TYPES = 7;

/** Client states with the STANDARD's numeric values; negative values are error states. */
export const ClientState = {
  connectTokenExpired: -6,
  invalidConnectToken: -5,
  connectionTimedOut: -4,
  connectionResponseTimedOut: -3,
  connectionRequestTimedOut: -2,
  connectionDenied: -1,
  disconnected: 0,
  sendingConnectionRequest: 1,
  sendingConnectionResponse: 2,
  connected: 3,
} as const;
export type ClientStateValue = (typeof ClientState)[keyof typeof ClientState];

const STATE_NAMES: Record<number, string> = {
  [-6]: 'connect_token_expired',
  [-5]: 'invalid_connect_token',
  [-4]: 'connection_timed_out',
  [-3]: 'connection_response_timed_out',
  [-2]: 'connection_request_timed_out',
  [-1]: 'connection_denied',
  0: 'disconnected',
  1: 'sending_connection_request',
  2: 'sending_connection_response',
  3: 'connected',
};

/** Snake-case name of a client state, as the reference logs it. */
export function clientStateName(state: number): string {
  return STATE_NAMES[state] ?? `unknown(${state})`;
}
