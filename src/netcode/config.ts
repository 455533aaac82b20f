import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { IyesmpError } from '../errors.js';
import { makeAddress, formatAddress } from './address.js';
import type { NetcodeVersion } from './constants.js';
import { ConnectTokenSequence } from './token-sequence.js';
import { netcodeError } from './errors.js';
import { readPrivateKeyFile } from './keyfile.js';

/**
 * The resolvers that turn a loaded netcode config section (schemas: src/config/netcode.ts) into
 * what `NetcodeHostTransport.listen` and `issueNetcodeHandoff` take. They read plain shapes, so the
 * wire library does not depend on the config layer above it.
 */

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
      drop_unannounced?: boolean | undefined;
      enforce_address?: boolean | undefined;
      version?: NetcodeVersion | undefined;
      socket_buffer_bytes?: number | undefined;
    };
  };
}

export interface NetcodeAuthConfigLike {
  netcode: {
    private_key_file?: string | undefined;
    protocol_id: string;
    token_expire_seconds: number;
    timeout_seconds: number;
    version?: NetcodeVersion | undefined;
    token_issuer_id?: number | undefined;
  };
}

export interface ResolvedNetcodeHost {
  privateKey: Uint8Array;
  protocolId: bigint;
  /** "ip:port" to listen on */
  bind: string;
  /** "ip:port" clients dial and tokens list: register it as the host's netcode transport address */
  address: string;
  maxClients: number;
  /** drop sources no live session expects before parsing (`drop_unannounced`, default true) */
  dropUnannounced: boolean;
  enforceAddress: boolean;
  version: NetcodeVersion;
  /** socket send/receive buffers (`socket_buffer_bytes`); absent: the transport's default, 4 MiB */
  socketBufferBytes?: number;
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
    throw netcodeError('netcode_address_unresolved', `${what} ${host} does not resolve (${(err as Error).message})`, {
      hint: 'netcode tokens carry IP addresses: set an IP literal',
    });
  }
}

function missingKey(where: string): IyesmpError {
  return netcodeError('netcode_no_key', `netcode needs a private key: ${where}.private_key_file is not set`, {
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
    dropUnannounced: n.drop_unannounced ?? true,
    enforceAddress: n.enforce_address ?? false,
    version: n.version ?? '1.02',
    ...(n.socket_buffer_bytes !== undefined ? { socketBufferBytes: n.socket_buffer_bytes } : {}),
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
    ...(n.version === '1.00' ? { tokenSequence: new ConnectTokenSequence(n.token_issuer_id ?? 0) } : {}),
  };
}
