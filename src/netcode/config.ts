import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { address, bool, filePath, port, posInt, protocolId } from '../config/fields.js';
import { IyesmpError } from '../errors.js';
import { makeAddress, formatAddress } from './address.js';
import { NETCODE_VERSIONS, type NetcodeVersion } from './constants.js';
import { ConnectTokenSequence } from './token-sequence.js';
import { readPrivateKeyFile } from './keyfile.js';

/**
 * The netcode sections of the Host and Auth configs, for the config owners to include, and the
 * resolvers that turn a loaded section into what `NetcodeHostTransport.listen` and
 * `issueNetcodeHandoff` take. Keys and defaults match the existing `[transports.netcode]` (host)
 * and `[netcode]` (auth) tables; the host section adds optional keys only.
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
      /** also require the source IP the Auth server announced for each player (off: tokens are address-independent) */
      enforce_address: bool().default(false),
      /** wire version: "1.02" (default), or "1.00" for peers built on the 1.00 reference (docs/netcode.md) */
      version: z.enum(NETCODE_VERSIONS, { error: 'expected "1.02" or "1.00"' }).optional(),
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
    })
    .prefault({});
}

/** The parts of a loaded host config the resolver reads (the optional keys may be absent in older schemas). */
export interface NetcodeHostConfigLike {
  host: { public_address: string };
  listen: { address: string };
  transports: {
    netcode: {
      port: number;
      private_key_file?: string | undefined;
      protocol_id: string;
      max_clients: number;
      bind_address?: string | undefined;
      public_address?: string | undefined;
      enforce_address?: boolean | undefined;
      version?: NetcodeVersion | undefined;
    };
  };
}

export interface NetcodeAuthConfigLike {
  netcode: { private_key_file?: string | undefined; protocol_id: string; token_expire_seconds: number; timeout_seconds: number; version?: NetcodeVersion | undefined };
}

export interface ResolvedNetcodeHost {
  privateKey: Uint8Array;
  protocolId: bigint;
  /** "ip:port" to listen on */
  bind: string;
  /** "ip:port" clients dial and tokens list: register it as the host's netcode transport address */
  address: string;
  maxClients: number;
  enforceAddress: boolean;
  version: NetcodeVersion;
}

export interface ResolvedNetcodeIssuer {
  privateKey: Uint8Array;
  protocolId: bigint;
  expireSeconds: number;
  timeoutSeconds: number;
  /** default 1.02 */
  version?: NetcodeVersion;
  /** 1.00 only: this server's source of token nonces */
  tokenSequence?: ConnectTokenSequence;
}

type Resolve = (name: string) => Promise<string>;
const dnsResolve: Resolve = async (name) => (await lookup(name)).address;

async function ipOf(host: string, what: string, resolve: Resolve): Promise<string> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare)) return bare;
  try {
    return await resolve(bare);
  } catch (err) {
    throw new IyesmpError('input', 'netcode_address_unresolved', `${what} ${host} does not resolve (${(err as Error).message})`, {
      hint: 'netcode tokens carry IP addresses: set an IP literal',
    });
  }
}

function missingKey(where: string): IyesmpError {
  return new IyesmpError('input', 'netcode_no_key', `netcode needs a private key: ${where}.private_key_file is not set`, {
    hint: 'create one with `iyesmp netcode keygen -o netcode.key` and give the same file to the Auth servers and hosts',
  });
}

/** Reads the key file and settles the addresses for `NetcodeHostTransport.listen`. */
export async function resolveNetcodeHost(c: NetcodeHostConfigLike, resolve: Resolve = dnsResolve): Promise<ResolvedNetcodeHost> {
  const n = c.transports.netcode;
  if (!n.private_key_file) throw missingKey('transports.netcode');
  const bindIp = await ipOf(n.bind_address ?? c.listen.address, 'bind address', resolve);
  const publicIp = await ipOf(n.public_address ?? c.host.public_address, 'public address', resolve);
  return {
    privateKey: await readPrivateKeyFile(n.private_key_file),
    protocolId: BigInt(n.protocol_id),
    bind: formatAddress(makeAddress(bindIp, n.port)),
    address: formatAddress(makeAddress(publicIp, n.port)),
    maxClients: n.max_clients,
    enforceAddress: n.enforce_address ?? false,
    version: n.version ?? '1.02',
  };
}

/** Reads the key file and the token settings for `issueNetcodeHandoff`. */
export async function resolveNetcodeIssuer(c: NetcodeAuthConfigLike): Promise<ResolvedNetcodeIssuer> {
  const n = c.netcode;
  if (!n.private_key_file) throw missingKey('netcode');
  return {
    privateKey: await readPrivateKeyFile(n.private_key_file),
    protocolId: BigInt(n.protocol_id),
    expireSeconds: n.token_expire_seconds,
    timeoutSeconds: n.timeout_seconds,
    version: n.version ?? '1.02',
    ...(n.version === '1.00' ? { tokenSequence: new ConnectTokenSequence() } : {}),
  };
}
