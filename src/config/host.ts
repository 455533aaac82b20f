import { z } from 'zod';
import { adminPortClashes } from './admin.js';
import { netcodeHostConfigSection } from './netcode.js';
import { address, adminHttp, bool, connectionLimits, filePath, hostPort, logging, nonEmpty, port, posInt } from './fields.js';

/** A Host server's config (`kind = "host"`). Rendered commented from templates/host.toml. */
export function hostConfigSchema(baseDir?: string) {
  const file = () => filePath(baseDir);
  return z
    .strictObject({
      kind: z.literal('host', { error: 'expected "host"' }),
      host: z.strictObject({
        name: nonEmpty('a host name').regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/, { error: 'expected letters, digits, ".", "_" or "-"' }),
        region: nonEmpty('a region name').default('local'),
        public_address: address(),
        capacity: posInt().default(64),
        labels: z.record(z.string(), z.string({ error: 'expected a string' }), { error: 'expected a table of strings' }).default({}),
        /** on SIGTERM or an admin drain: how long running games may take to finish before they are cancelled */
        drain_timeout_seconds: posInt().max(86_400, { error: 'expected a positive integer up to 86400' }).default(600),
      }),
      /** the operators' admin port (`iyesmp admin`, `iyesmp top`; Admin certificates only); absent: none */
      admin: z.strictObject({ address: address().default('127.0.0.1'), port: port().default(7402) }).optional(),
      listen: z.strictObject({ address: address().default('0.0.0.0') }).prefault({}),
      game: z
        .strictObject({
          /** ES module exporting the game (`game` or default: { begin(session) }); `serve host --game` wins over it */
          module: file().optional(),
          /** fewest players a session may begin (and go on) with; default: all of its players */
          min_players: posInt().max(1024, { error: 'expected a positive integer up to 1024' }).optional(),
          /** how long a player who lost its connection keeps its seat */
          reconnect_grace_seconds: z
            .number({ error: 'expected a whole number of seconds (0 or more)' })
            .int({ error: 'expected a whole number of seconds (0 or more)' })
            .min(0, { error: 'expected a whole number of seconds (0 or more)' })
            .max(3600, { error: 'expected at most 3600 seconds' })
            .default(15),
        })
        .prefault({}),
      auth: z.strictObject({
        servers: z.array(hostPort(), { error: 'expected a list of "host:port" strings' }).min(1, { error: 'expected at least one Auth server' }),
        server_name: nonEmpty('the TLS name in the Auth server certificate').optional(),
        heartbeat_seconds: posInt().default(5),
        reconnect_max_seconds: posInt().default(30),
      }),
      pki: z.strictObject({
        trust_dir: file(),
        cert: file(),
        key: file(),
        key_passphrase_file: file().optional(),
      }),
      outbox: z
        .strictObject({
          /** folder for results and telemetry not yet acknowledged by an Auth server; unset: memory only */
          dir: file().optional(),
        })
        .prefault({}),
      transports: z
        .strictObject({
          quic: z
            .strictObject({
              enabled: bool().default(true),
              port: port().default(7400),
              idle_timeout_seconds: posInt().default(30),
              max_streams: posInt().default(64),
              ...connectionLimits(),
              /** connections admitted to one seat at once */
              max_per_seat: posInt().optional(),
            })
            .prefault({}),
          netcode: netcodeHostConfigSection(baseDir),
          mqtt: z
            .strictObject({
              enabled: bool().default(false),
              broker: z
                .string({ error: 'expected "embedded" or an mqtts:// URL' })
                .regex(/^(embedded|mqtts?:\/\/.+)$/, { error: 'expected "embedded" or an mqtts:// URL' })
                .default('embedded'),
              port: port().default(8883),
              topic_prefix: nonEmpty()
                .regex(/^[a-z0-9_-]{1,64}(?:\/[a-z0-9_-]{1,64}){0,3}$/, { error: 'expected 1-4 topic levels of a-z, 0-9, _ and -' })
                .default('game'),
              /** how the host keeps each room's ACL on the broker: iyesmp's control topic (embedded, `serve broker`) or Mosquitto's dynamic security */
              acl: z.enum(['control', 'dynsec'], { error: 'expected "control" or "dynsec"' }).optional(),
              /** the TLS name in the broker's certificate, when it is not the URL's host */
              server_name: nonEmpty('the TLS name of the broker').optional(),
              /** seal moves and host messages with a room key (X25519 + AEAD) */
              encrypt: bool().default(false),
              /** embedded broker: publishes per second per client, and connections per source address */
              publish_rate: posInt().default(50),
              max_connections_per_address: posInt().default(32),
              /** embedded broker nodes that act as one: the Redis they share (redis:// or rediss:// URL) */
              redis_url: z
                .string({ error: 'expected a redis:// or rediss:// URL' })
                .regex(/^rediss?:\/\/[^\s/]+(\/\d+)?$/, { error: 'expected a redis:// or rediss:// URL, e.g. "redis://127.0.0.1:6379"' })
                .optional(),
              /** keys and channels of this deployment in that Redis start with this */
              redis_prefix: z
                .string()
                .regex(/^[A-Za-z0-9_:.-]{1,64}$/, { error: 'expected 1-64 characters of A-Z, a-z, 0-9, _ : . -' })
                .default('iyesmp:'),
            })
            .prefault({}),
        })
        .prefault({}),
      logging: logging(),
      admin_http: adminHttp(9465),
    })
    .superRefine((c, ctx) => {
      const t = c.transports;
      if (!t.quic.enabled && !t.netcode.enabled && !t.mqtt.enabled) {
        ctx.addIssue({ code: 'custom', path: ['transports'], message: 'enable at least one transport (quic, netcode or mqtt)' });
      }
      if (t.netcode.enabled && !t.netcode.private_key_file) {
        ctx.addIssue({
          code: 'custom',
          path: ['transports', 'netcode', 'private_key_file'],
          message: 'netcode is enabled: set the private key file shared with the Auth servers',
        });
      }
      const ports = [
        t.quic.enabled && ['quic', t.quic.port],
        t.netcode.enabled && ['netcode', t.netcode.port],
        t.mqtt.enabled && t.mqtt.broker === 'embedded' && ['mqtt', t.mqtt.port],
      ].filter(Boolean) as [string, number][];
      // QUIC and netcode are both UDP; the embedded broker is TCP, so only UDP ports may not clash
      const udp = ports.filter(([n]) => n !== 'mqtt');
      if (udp.length === 2 && udp[0]![1] === udp[1]![1]) {
        ctx.addIssue({ code: 'custom', path: ['transports', 'netcode', 'port'], message: 'quic and netcode must use different UDP ports' });
      }
      for (const issue of adminPortClashes(
        c.admin,
        udp.map(([n, port]) => [`transports.${n}.port`, c.listen.address, port] as [string, string, number]),
      ))
        ctx.addIssue(issue);
    });
}

export type HostConfig = z.output<ReturnType<typeof hostConfigSchema>>;
