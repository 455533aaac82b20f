/**
 * Mosquitto 2 as the broker of turn-based sessions: its config (mutual TLS with this PKI,
 * `require_certificate`, identities from the certificate subject, the dynamic-security plugin) and
 * the plugin's initial state, in which only the host's identity may manage ACLs. The host then
 * keeps every room's ACL through `$CONTROL/dynamic-security/v1` (dynsec.ts).
 *
 * `use_subject_as_username` rather than `use_identity_as_username` (the CN): a session cert's CN
 * is the seat id, the same in every session of a player, while the subject also names the session.
 */
import { X509Certificate } from 'node:crypto';
import { access } from 'node:fs/promises';

/** Where Debian and other distributions put the plugin. */
export const DYNSEC_PLUGIN_PATHS = [
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
  '/usr/lib64/mosquitto_dynamic_security.so',
];

export async function findDynsecPlugin(): Promise<string | undefined> {
  for (const p of DYNSEC_PLUGIN_PATHS) {
    try {
      await access(p);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** The username Mosquitto gives a certificate with `use_subject_as_username` (RFC 2253: most specific first). */
export function mosquittoUsernameOfCert(pem: string): string {
  const subject = new X509Certificate(pem).subject;
  return subject.split('\n').filter(Boolean).reverse().join(',');
}

/** The organization (O) of a certificate: session certs carry the PKI's. */
export function organizationOfCert(pem: string): string {
  const o = new X509Certificate(pem).subject.split('\n').find((l) => l.startsWith('O='));
  return o ? o.slice(2) : 'iyesmp';
}

export interface MosquittoConfigInput {
  host: string;
  port: number;
  /** the PKI's Master certificate: client certificates chain to it (SessionAuth in between) */
  cafile: string;
  /** the broker's certificate (a Host certificate of the PKI) and key */
  certfile: string;
  keyfile: string;
  plugin: string;
  dynsecFile: string;
  /** the user mosquitto runs as when started by root (default its own, "mosquitto": the files must be readable by it) */
  user?: string;
}

export function renderMosquittoConfig(c: MosquittoConfigInput): string {
  return `# Mosquitto for iyesmp turn-based games (iyesmp config scaffold mosquitto). docs/turns.md
per_listener_settings false
allow_anonymous false
persistence false
${c.user ? `user ${c.user}\n` : ''}
listener ${c.port} ${c.host}
# mutual TLS: clients present a certificate of this PKI (session certificates minted at hand-off)
cafile ${c.cafile}
certfile ${c.certfile}
keyfile ${c.keyfile}
require_certificate true
tls_version tlsv1.2
# the identity is the certificate subject (CN=<seat>,OU=<session>,O=<org>), never a password
use_subject_as_username true
max_packet_size 65536
max_inflight_messages 64
max_queued_messages 256

# each room's ACL is kept by the host: a role per player with literal topics (no wildcards)
plugin ${c.plugin}
plugin_opt_config_file ${c.dynsecFile}
`;
}

/** The plugin's initial state: the host may manage ACLs and use the whole topic prefix; everyone else nothing. */
export function dynsecInitialState(hostUsername: string, prefix: string): string {
  const state = {
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
    clients: [{ username: hostUsername, textname: 'iyesmp host', roles: [{ rolename: 'iyesmp-host' }] }],
    groups: [],
    roles: [
      {
        rolename: 'iyesmp-host',
        acls: [
          { acltype: 'publishClientSend', topic: '$CONTROL/dynamic-security/#', priority: 0, allow: true },
          { acltype: 'subscribePattern', topic: '$CONTROL/dynamic-security/#', priority: 0, allow: true },
          { acltype: 'publishClientReceive', topic: '$CONTROL/dynamic-security/#', priority: 0, allow: true },
          { acltype: 'publishClientSend', topic: `${prefix}/#`, priority: 0, allow: true },
          { acltype: 'subscribePattern', topic: `${prefix}/#`, priority: 0, allow: true },
          { acltype: 'publishClientReceive', topic: `${prefix}/#`, priority: 0, allow: true },
        ],
      },
    ],
  };
  return `${JSON.stringify(state, null, 2)}\n`;
}
