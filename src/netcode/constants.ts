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
/**
 * Pending handshakes (encryption mappings of sources that sent a request but hold no slot yet): the
 * C reference's NETCODE_MAX_ENCRYPTION_MAPPINGS, 4 x its 256 max clients, whatever a server's own
 * max clients is.
 */
export const MAX_PENDING_HANDSHAKES = 1024;
/**
 * Socket send and receive buffers of every netcode socket unless configured: what the C reference
 * server asks for. With the kernel's default (~208 KiB) a burst of 50 payloads per 1 ms tick
 * overflows the receive queue and the kernel drops datagrams.
 */
export const DEFAULT_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
export const U64_MAX = (1n << 64n) - 1n;
/** The server's challenge/denied packets use a sequence counter that starts here (reference behaviour). */
export const GLOBAL_SEQUENCE_START = 1n << 63n;

/**
 * Wire versions this build speaks. 1.02 is the default and what current implementations send; 1.00
 * is a compatibility mode for peers built on the 1.00 reference (docs/netcode.md lists the differences).
 */
export const NETCODE_VERSIONS = ['1.02', '1.00'] as const;
export type NetcodeVersion = (typeof NETCODE_VERSIONS)[number];
export const DEFAULT_NETCODE_VERSION: NetcodeVersion = '1.02';

/** What differs on the wire between the versions; everything else is shared. */
export interface NetcodeWire {
  /** 13 bytes, also part of every AD, so the versions cannot read each other's packets */
  versionInfo: Uint8Array;
  /** 1.02: a random 24-byte XChaCha nonce; 1.00: the connect token sequence (u64 LE), nonce 0000‖sequence */
  tokenNonceBytes: number;
  connectionRequestBytes: number;
  /** the 1.00 reference's buffers are 1220 bytes: longer datagrams are truncated there */
  maxPacketBytes: number;
  /** the 1.00 private part has no timeout and its server uses this fixed one; null: from the token */
  fixedServerTimeoutSeconds: number | null;
}

function wire(text: string, tokenNonceBytes: number, maxPacketBytes: number, fixedServerTimeoutSeconds: number | null): NetcodeWire {
  return {
    versionInfo: new Uint8Array([...Buffer.from(text, 'ascii'), 0]),
    tokenNonceBytes,
    connectionRequestBytes: 1 + VERSION_INFO_BYTES + 8 + 8 + tokenNonceBytes + CONNECT_TOKEN_PRIVATE_BYTES,
    maxPacketBytes,
    fixedServerTimeoutSeconds,
  };
}

const WIRES: Record<NetcodeVersion, NetcodeWire> = {
  '1.02': wire('NETCODE 1.02', CONNECT_TOKEN_NONCE_BYTES, MAX_PACKET_BYTES, null),
  '1.00': wire('NETCODE 1.00', 8, 1220, 5),
};

const WIRE_102 = WIRES['1.02'];
const WIRE_100 = WIRES['1.00'];

export function netcodeWire(version: NetcodeVersion): NetcodeWire {
  // a comparison, not a keyed lookup: this runs for every packet read or written
  return version === '1.02' ? WIRE_102 : WIRE_100;
}

export function isNetcodeVersion(v: unknown): v is NetcodeVersion {
  return typeof v === 'string' && (NETCODE_VERSIONS as readonly string[]).includes(v);
}

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
