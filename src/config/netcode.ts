import { z } from 'zod';
import { NETCODE_VERSIONS } from '../netcode/constants.js';
import { MAX_TOKEN_ISSUER_ID } from '../netcode/token-sequence.js';
import { address, bool, filePath, port, posInt, protocolId } from './fields.js';

/**
 * The netcode sections of the Host and Auth configs. Keys and defaults match the existing
 * `[transports.netcode]` (host) and `[netcode]` (auth) tables; the host section adds optional keys
 * only. `resolveNetcodeHost` and `resolveNetcodeIssuer` (src/netcode/config.ts) read what they parse.
 */

/** `[transports.netcode]` of a host config. */
export function netcodeHostConfigSection(baseDir?: string) {
  return z
    .strictObject({
      enabled: bool().default(false),
      /** UDP port to listen on; also the port in the address clients dial */
      port: port().default(40000),
      /** default: `[listen].address` */
      bind_address: address().optional(),
      /** the IP (or name, resolved at start) clients dial and tokens list; default: `[host].public_address` */
      public_address: address().optional(),
      /** the 32-byte key shared with the Auth servers */
      private_key_file: filePath(baseDir).optional(),
      protocol_id: protocolId().default('0x1'),
      max_clients: posInt().max(4096, { error: 'expected at most 4096 (netcode limit)' }).default(64),
      /**
       * drop datagrams from source IPs no live session expects, before parsing (default true); false is
       * the explicit opt-out for players whose address changes after the hand-off (docs/netcode.md)
       */
      drop_unannounced: bool().optional(),
      /** after the token checks out, also require the IP the Auth server announced for that token's seat */
      enforce_address: bool().default(false),
      /** wire version: "1.02" (default), or "1.00" for peers built on the 1.00 reference (docs/netcode.md) */
      version: z.enum(NETCODE_VERSIONS, { error: 'expected "1.02" or "1.00"' }).optional(),
      /** socket send/receive buffer bytes (default 4 MiB, as the C reference server); the kernel caps it at net.core.rmem_max */
      socket_buffer_bytes: posInt()
        .min(1024, { error: 'expected at least 1024' })
        .max(1 << 30, { error: 'expected at most 1073741824 (1 GiB)' })
        .optional(),
    })
    .prefault({});
}

/** `[netcode]` of an auth config. */
export function netcodeAuthConfigSection(baseDir?: string) {
  return z
    .strictObject({
      private_key_file: filePath(baseDir).optional(),
      protocol_id: protocolId().default('0x1'),
      /** how long a client has to start connecting after the hand-off */
      token_expire_seconds: posInt().default(30),
      /** silence after which host and client drop the connection */
      timeout_seconds: posInt().default(10),
      /** wire version of the tokens, default "1.02"; must match the hosts' */
      version: z.enum(NETCODE_VERSIONS, { error: 'expected "1.02" or "1.00"' }).optional(),
      /** 1.00 only: this Auth node's id in its token sequences (0..1023); nodes sharing a key need distinct ids */
      token_issuer_id: z
        .int()
        .min(0)
        .max(MAX_TOKEN_ISSUER_ID, { error: `expected an integer 0..${MAX_TOKEN_ISSUER_ID}` })
        .optional(),
    })
    .prefault({});
}
