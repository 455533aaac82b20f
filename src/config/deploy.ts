import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configError } from './errors.js';
import { AUTH_CLIENTS_PORT, AUTH_HOSTS_PORT, HOST_QUIC_PORT } from './scaffold.js';
import type { ManifestEntry } from '../pki/types.js';

/**
 * `iyesmp config scaffold systemd|docker|compose|k8s`: deployment files for the servers, all built
 * around one layout, the one `iyesmp bundle auth|host NAME` packs (a folder named after the server):
 *
 *   NAME/auth.toml | NAME/host.toml   the config, paths relative to it
 *   NAME/tls/auth.pem, tls/auth.key   (host: tls/host.pem, tls/host.key; auth also tls/sessionauth.*)
 *   NAME/trust/                        the trust list (Master cert, ClientAuth list and its signature)
 *
 * Keys reach the processes as credentials or secrets mounted as files, and the environment
 * overrides of src/config/env.ts point the config at them, so a bundle's config is used unchanged.
 */
export const DEPLOY_KINDS = ['systemd', 'docker', 'compose', 'k8s'] as const;
export type DeployKind = (typeof DEPLOY_KINDS)[number];

export const BUNDLE_LAYOUT = {
  auth: { config: 'auth.toml', cert: 'tls/auth.pem', key: 'tls/auth.key', sessionAuthCert: 'tls/sessionauth.pem', sessionAuthKey: 'tls/sessionauth.key' },
  host: { config: 'host.toml', cert: 'tls/host.pem', key: 'tls/host.key' },
  trustDir: 'trust',
  netcodeKey: 'netcode.key',
} as const;

/** The files of the trust folder `certs init` writes (src/pki), in the order they are mounted. */
export const TRUST_FILES = ['master.pem', 'clientauths.json', 'clientauths.json.sig'] as const;

/**
 * Ports of the HTTP admin listener (/healthz, /readyz, /metrics) on loopback, its defaults
 * (`[admin_http] listen`). The probes below run inside the container and ask 127.0.0.1 there, so
 * no listener has to face the network.
 */
export const ADMIN_HTTP_PORT = { auth: 9464, host: 9465 } as const;

export interface DeployInput {
  kind: DeployKind;
  /** manifest entries of the PKI, or undefined when there is none (conventional names are used) */
  entries: ManifestEntry[] | undefined;
  /** systemd: the iyesmp executable (absolute) */
  exec?: string;
  /** host: how long serve host waits on SIGTERM to deliver results (ms, `--grace-ms`; default 10 s) */
  graceMs?: number;
  /** host: how long running games may take to finish on SIGTERM (`host.drain_timeout_seconds`; default 600) */
  drainSeconds?: number;
  /** docker, compose, k8s: the image */
  image?: string;
  /** compose, k8s: how many hosts (default: the PKI's host certificates, else 2) */
  hosts?: number;
  now?: Date;
}

export interface DeployFile {
  /** relative to the output folder */
  name: string;
  text: string;
  /** 0600 for secrets */
  mode?: number;
}

export interface DeployResult {
  kind: DeployKind;
  files: DeployFile[];
  notes: string[];
}

const templateFile = (name: string) => fileURLToPath(new URL(`../../templates/deploy/${name}`, import.meta.url));

function render(template: string, name: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw configError('template_placeholder', `templates/deploy/${name} uses an unknown placeholder {{${key}}}`);
    return v;
  });
}

interface Names {
  auth: string;
  /** the name hosts expect in the Auth certificate */
  authCertName: string;
  hosts: string[];
  sessionAuthEncrypted: boolean;
}

function namesOf(input: DeployInput): Names {
  const entries = input.entries ?? [];
  const auth = entries.find((e) => e.role === 'auth');
  const hostEntries = entries.filter((e) => e.role === 'host').map((e) => e.name);
  const count = input.hosts ?? (hostEntries.length || 2);
  const hosts = Array.from({ length: count }, (_, i) => hostEntries[i] ?? `host-${i + 1}`);
  return {
    auth: auth?.name ?? 'auth',
    authCertName: auth?.dnsNames?.[0] ?? auth?.ipAddresses?.[0] ?? 'localhost',
    hosts,
    sessionAuthEncrypted: Boolean(entries.find((e) => e.role === 'sessionauth')?.keyEncrypted),
  };
}

/** A name as DNS labels allow (compose services, Kubernetes objects): lower case, [a-z0-9-]. */
export function dnsLabel(name: string): string {
  const l = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return l.slice(0, 50) || 'x';
}

const DEFAULT_GRACE_MS = 10_000;
const DEFAULT_DRAIN_SECONDS = 600;

/**
 * How long a platform waits after SIGTERM before it kills a host: the drain (running games finish),
 * the results' delivery, and a minute to spare, so the kill never comes first.
 */
function stopSeconds(input: DeployInput): number {
  return (input.drainSeconds ?? DEFAULT_DRAIN_SECONDS) + Math.ceil((input.graceMs ?? DEFAULT_GRACE_MS) / 1000) + 60;
}

const ENCRYPTED_SA = (where: string) =>
  `the SessionAuth key is encrypted: add its passphrase as ${where} mounted as a file, and point IYESMP_AUTH__PKI__SESSION_AUTH_PASSPHRASE_FILE at it`;

/** A YAML double-quoted scalar (JSON strings are valid YAML). */
const q = (s: string) => JSON.stringify(s);

/** The healthcheck/probe command: node is in the image, curl is not. */
function probe(kind: 'auth' | 'host', path: '/healthz' | '/readyz'): string[] {
  const url = `http://127.0.0.1:${ADMIN_HTTP_PORT[kind]}${path}`;
  return ['node', '-e', `fetch('${url}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`];
}

export async function scaffoldDeploy(input: DeployInput): Promise<DeployResult> {
  const names = namesOf(input);
  const generated_at = (input.now ?? new Date()).toISOString();
  const notes: string[] = [];
  if (!input.entries) notes.push('no PKI found: the files use the names `iyesmp certs init` gives (auth, host-1, host-2)');
  switch (input.kind) {
    case 'systemd': {
      const exec = input.exec ?? '/usr/local/bin/iyesmp';
      if (!exec.startsWith('/')) throw configError('bad_exec', `--exec must be an absolute path (systemd runs no shell), got ${exec}`);
      const graceMs = input.graceMs ?? DEFAULT_GRACE_MS;
      const stopTimeout = `${stopSeconds(input)}s`;
      const values = {
        generated_at,
        exec,
        auth_name: names.auth,
        host_name: names.hosts[0] ?? 'host-1',
        passphrase_credential: names.sessionAuthEncrypted ? '' : '# ',
        grace_ms: String(graceMs),
        stop_timeout: stopTimeout,
        drain_seconds: String(input.drainSeconds ?? DEFAULT_DRAIN_SECONDS),
      };
      const files: DeployFile[] = [];
      for (const name of ['iyesmp-auth@.service', 'iyesmp-host@.service']) {
        files.push({ name, text: render(await readFile(templateFile(name), 'utf8'), name, values) });
      }
      if (names.sessionAuthEncrypted)
        notes.push('the SessionAuth key is encrypted: put its passphrase in /etc/iyesmp/AUTH-NAME/sessionauth.pass (0600, root) on each Auth node');
      return { kind: 'systemd', files, notes };
    }
    case 'docker': {
      const files: DeployFile[] = [
        { name: 'Dockerfile', text: render(await readFile(templateFile('Dockerfile'), 'utf8'), 'Dockerfile', { generated_at }) },
        { name: '.dockerignore', text: await readFile(templateFile('dockerignore'), 'utf8') },
      ];
      return { kind: 'docker', files, notes };
    }
    case 'compose':
      if (names.sessionAuthEncrypted) notes.push(ENCRYPTED_SA('a compose secret'));
      return {
        kind: 'compose',
        files: [
          {
            name: 'compose.yaml',
            text: composeFile(names, input.image ?? 'iyesmp:latest', generated_at, input.graceMs ?? DEFAULT_GRACE_MS, stopSeconds(input)),
          },
        ],
        notes,
      };
    case 'k8s':
      if (names.sessionAuthEncrypted) notes.push(ENCRYPTED_SA('a key of the Secret iyesmp-AUTH-keys'));
      return {
        kind: 'k8s',
        files: k8sFiles(names, input.image ?? 'iyesmp:latest', generated_at, input.graceMs ?? DEFAULT_GRACE_MS, stopSeconds(input)),
        notes,
      };
  }
}

function composeFile(n: Names, image: string, generatedAt: string, graceMs: number, stopAfter: number): string {
  const a = BUNDLE_LAYOUT.auth;
  const h = BUNDLE_LAYOUT.host;
  const hostServices = n.hosts.map((name, i) => {
    const svc = dnsLabel(name);
    const port = HOST_QUIC_PORT + i;
    return `  ${svc}:
    image: ${q(image)}
    # built like the Auth node's (the same layers, cached): compose never tries to pull it
    build: .
    command: ["serve", "host", "--grace-ms", "${graceMs}"]
    depends_on:
      auth:
        condition: service_started
    environment:
      IYESMP_CONFIG: /etc/iyesmp/${h.config}
      IYESMP_HOST__PKI__KEY: /run/secrets/${svc}-key
      # the port clients dial is the port published below: the same on both sides
      IYESMP_HOST__TRANSPORTS__QUIC__PORT: "${port}"
      IYESMP_HOST__AUTH__SERVERS: '["auth:${AUTH_HOSTS_PORT}"]'
      IYESMP_HOST__AUTH__SERVER_NAME: ${q(n.authCertName)}
      IYESMP_HOST__OUTBOX__DIR: /var/lib/iyesmp/outbox
    volumes:
      - ./bundles/${name}:/etc/iyesmp:ro
      - ${svc}-outbox:/var/lib/iyesmp
    secrets:
      - ${svc}-key
    ports:
      - "${port}:${port}/udp"
    healthcheck:
      test: ${JSON.stringify(['CMD', ...probe('host', '/healthz')])}
      interval: 10s
      timeout: 3s
      retries: 3
    # SIGTERM: running games may finish (host.drain_timeout_seconds), then results go out (--grace-ms)
    stop_grace_period: ${stopAfter}s
    restart: unless-stopped
`;
  });
  return `# iyesmp on one machine: PostgreSQL, one Auth node and ${n.hosts.length} Hosts.
# Generated by \`iyesmp config scaffold compose\` on ${generatedAt}.
#
# Next to this file:
#   Dockerfile                      \`iyesmp config scaffold docker\` (the image ${image} is built from it)
#   bundles/${n.auth}/ ${n.hosts.map((h) => `bundles/${h}/`).join(' ')}
#                                   \`iyesmp bundle auth|host NAME\`, each unpacked here: tar -xzf FILE -C bundles
#   secrets/postgres-password       the database password (one line, 0600)
#   secrets/pgpass                  the same password for the Auth node, as a libpq password file line
#                                   postgres:5432:iyesmp:iyesmp:PASSWORD (0600, owned by uid 1000)
# The containers run as uid 1000 (node): give it the keys with \`chown 1000 bundles/*/tls/*.key\`.
# Each host's public_address (in its certificate and config) must reach this machine; the Auth node
# must be named ${n.authCertName} in its certificate, as the hosts check it.
# Health: /healthz of the admin HTTP listener inside each container (127.0.0.1:${ADMIN_HTTP_PORT.auth} auth, :${ADMIN_HTTP_PORT.host} hosts).
# The database: the Auth node keeps accounts, bans and results in PostgreSQL (database.url), and
# creates the schema in the empty database at its first start (database.migrate; after an upgrade,
# \`iyesmp db migrate\` is the careful way). The url carries no password (it would show in
# \`docker inspect\`): node-postgres reads it from PGPASSFILE.
# The project name is this folder's (docker compose -p NAME for another).
services:
  postgres:
    image: postgres:16
    environment:
      POSTGRES_USER: iyesmp
      POSTGRES_DB: iyesmp
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres-password
    secrets:
      - postgres-password
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "iyesmp", "-d", "iyesmp"]
      interval: 5s
      timeout: 3s
      retries: 10
    restart: unless-stopped
  auth:
    image: ${q(image)}
    build: .
    command: ["serve", "auth"]
    depends_on:
      postgres:
        condition: service_healthy
    environment:
      IYESMP_CONFIG: /etc/iyesmp/${a.config}
      IYESMP_AUTH__PKI__KEY: /run/secrets/auth-key
      IYESMP_AUTH__PKI__SESSION_AUTH_KEY: /run/secrets/sessionauth-key
      IYESMP_AUTH__DATABASE__URL: postgres://iyesmp@postgres:5432/iyesmp
      IYESMP_AUTH__DATABASE__MIGRATE: "true"
      PGPASSFILE: /run/secrets/pgpass
    volumes:
      - ./bundles/${n.auth}:/etc/iyesmp:ro
    secrets:
      - auth-key
      - sessionauth-key
      - pgpass
    ports:
      - "${AUTH_CLIENTS_PORT}:${AUTH_CLIENTS_PORT}/udp"
    healthcheck:
      test: ${JSON.stringify(['CMD', ...probe('auth', '/healthz')])}
      interval: 10s
      timeout: 3s
      retries: 3
    restart: unless-stopped
${hostServices.join('')}secrets:
  auth-key:
    file: ./bundles/${n.auth}/${a.key}
  sessionauth-key:
    file: ./bundles/${n.auth}/${a.sessionAuthKey}
${n.hosts.map((name) => `  ${dnsLabel(name)}-key:\n    file: ./bundles/${name}/${h.key}\n`).join('')}  postgres-password:
    file: ./secrets/postgres-password
  pgpass:
    file: ./secrets/pgpass
volumes:
  pgdata:
${n.hosts.map((name) => `  ${dnsLabel(name)}-outbox:\n`).join('')}`;
}

function k8sFiles(n: Names, image: string, generatedAt: string, graceMs: number, stopAfter: number): DeployFile[] {
  const a = BUNDLE_LAYOUT.auth;
  const h = BUNDLE_LAYOUT.host;
  const header = (what: string) => `# ${what}\n# Generated by \`iyesmp config scaffold k8s\` on ${generatedAt}.\n`;
  const securityContext = `      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        fsGroup: 1000
        seccompProfile:
          type: RuntimeDefault
`;
  const containerSecurity = `          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
`;
  const probes = (kind: 'auth' | 'host') => `          livenessProbe:
            exec:
              command: ${JSON.stringify(probe(kind, '/healthz'))}
            periodSeconds: 10
            timeoutSeconds: 3
          readinessProbe:
            exec:
              command: ${JSON.stringify(probe(kind, '/readyz'))}
            periodSeconds: 5
            timeoutSeconds: 3
`;
  // the config map holds the bundle's public files; the config expects them under tls/ and trust/
  const configItems = (cfg: string, certs: Array<[string, string]>) =>
    [
      `                - key: ${cfg}\n                  path: ${cfg}\n`,
      ...certs.map(([key, p]) => `                - key: ${key}\n                  path: ${p}\n`),
      ...TRUST_FILES.map((f) => `                - key: ${f}\n                  path: ${BUNDLE_LAYOUT.trustDir}/${f}\n`),
    ].join('');
  const authName = dnsLabel(n.auth);
  const auth = `${header(`The Auth node ${n.auth}: a Deployment, a UDP Service for game clients and one for the hosts.`)}# One replica on the embedded database (a file in the pod); several need PostgreSQL (database.url).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: iyesmp-auth
  labels: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: auth }
spec:
  replicas: 1
  selector:
    matchLabels: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: auth }
  template:
    metadata:
      labels: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: auth }
    spec:
      terminationGracePeriodSeconds: 30
${securityContext}      containers:
        - name: auth
          image: ${q(image)}
          args: ["serve", "auth"]
          env:
            - { name: IYESMP_CONFIG, value: /etc/iyesmp/${a.config} }
            - { name: IYESMP_AUTH__PKI__KEY, value: /etc/iyesmp-keys/auth.key }
            - { name: IYESMP_AUTH__PKI__SESSION_AUTH_KEY, value: /etc/iyesmp-keys/sessionauth.key }
            # the embedded database: the config's folder is a read-only ConfigMap
            - { name: IYESMP_AUTH__DATABASE__PATH, value: /var/lib/iyesmp/auth-data }
          ports:
            - { name: clients, containerPort: ${AUTH_CLIENTS_PORT}, protocol: UDP }
            - { name: hosts, containerPort: ${AUTH_HOSTS_PORT}, protocol: UDP }
${probes('auth')}${containerSecurity}          volumeMounts:
            - { name: config, mountPath: /etc/iyesmp, readOnly: true }
            - { name: keys, mountPath: /etc/iyesmp-keys, readOnly: true }
            - { name: data, mountPath: /var/lib/iyesmp }
      volumes:
        # accounts, bans, results: an emptyDir lasts as long as the pod; use a PersistentVolumeClaim,
        # or PostgreSQL (IYESMP_AUTH__DATABASE__URL) to run several replicas
        - name: data
          emptyDir: {}
        - name: config
          configMap:
            name: iyesmp-${authName}
            items:
${configItems(a.config, [
  ['auth.pem', a.cert],
  ['sessionauth.pem', a.sessionAuthCert],
])}        - name: keys
          secret:
            secretName: iyesmp-${authName}-keys
            defaultMode: 0440
---
# Game clients dial this one (QUIC on UDP): publish it.
apiVersion: v1
kind: Service
metadata:
  name: iyesmp-auth
  labels: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: auth }
spec:
  type: LoadBalancer
  selector: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: auth }
  ports:
    - { name: clients, port: ${AUTH_CLIENTS_PORT}, targetPort: clients, protocol: UDP }
---
# Hosts dial this one; it stays inside the cluster.
apiVersion: v1
kind: Service
metadata:
  name: iyesmp-auth-hosts
  labels: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: auth }
spec:
  type: ClusterIP
  selector: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: auth }
  ports:
    - { name: hosts, port: ${AUTH_HOSTS_PORT}, targetPort: hosts, protocol: UDP }
`;
  const hostFiles = n.hosts.map((name, i): DeployFile => {
    const svc = dnsLabel(name);
    const port = HOST_QUIC_PORT + i;
    return {
      name: `host-${svc}.yaml`,
      text: `${header(`The host ${name}: one pod on a node's public UDP port ${port} (hostPort).`)}# Its certificate names the address clients dial (host.public_address): the node's public address,
# so pin the pod to that node (nodeSelector) or give the host a LoadBalancer Service of its own.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: iyesmp-${svc}
  labels: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: host, iyesmp/host: ${q(svc)} }
spec:
  replicas: 1
  # one certificate, one port: never two pods of a host at once
  strategy: { type: Recreate }
  selector:
    matchLabels: { app.kubernetes.io/name: iyesmp, iyesmp/host: ${q(svc)} }
  template:
    metadata:
      labels: { app.kubernetes.io/name: iyesmp, app.kubernetes.io/component: host, iyesmp/host: ${q(svc)} }
    spec:
      # SIGTERM: running games may finish (host.drain_timeout_seconds), then results go out (--grace-ms)
      terminationGracePeriodSeconds: ${stopAfter}
${securityContext}      containers:
        - name: host
          image: ${q(image)}
          args: ["serve", "host", "--grace-ms", "${graceMs}"]
          env:
            - { name: IYESMP_CONFIG, value: /etc/iyesmp/${h.config} }
            - { name: IYESMP_HOST__PKI__KEY, value: /etc/iyesmp-keys/host.key }
            - { name: IYESMP_HOST__TRANSPORTS__QUIC__PORT, value: "${port}" }
            - { name: IYESMP_HOST__AUTH__SERVERS, value: '["iyesmp-auth-hosts:${AUTH_HOSTS_PORT}"]' }
            - { name: IYESMP_HOST__AUTH__SERVER_NAME, value: ${q(n.authCertName)} }
            - { name: IYESMP_HOST__OUTBOX__DIR, value: /var/lib/iyesmp/outbox }
          ports:
            - { name: players, containerPort: ${port}, hostPort: ${port}, protocol: UDP }
${probes('host')}${containerSecurity}          volumeMounts:
            - { name: config, mountPath: /etc/iyesmp, readOnly: true }
            - { name: keys, mountPath: /etc/iyesmp-keys, readOnly: true }
            - { name: outbox, mountPath: /var/lib/iyesmp }
      volumes:
        - name: config
          configMap:
            name: iyesmp-${svc}
            items:
${configItems(h.config, [['host.pem', h.cert]])}        - name: keys
          secret:
            secretName: iyesmp-${svc}-keys
            defaultMode: 0440
        # results waiting for an Auth server; use a PersistentVolumeClaim to keep them across pod moves
        - name: outbox
          emptyDir: {}
`,
    };
  });
  const trust = (bundle: string) => TRUST_FILES.map((f) => `      - ${f}=bundles/${bundle}/${BUNDLE_LAYOUT.trustDir}/${f}\n`).join('');
  const kustomization = `${header('Everything, with the bundles as ConfigMaps (public files) and Secrets (keys): kubectl apply -k .')}# Unpack each bundle (\`iyesmp bundle auth|host NAME\`) into bundles/ beside this file first:
#   mkdir -p bundles && tar -xzf iyesmp-host-NAME.tar.gz -C bundles
# A bundle with a netcode.key (netcode game modes): add it to that server's Secret below and set
# IYESMP_HOST__TRANSPORTS__NETCODE__PRIVATE_KEY_FILE (auth: IYESMP_AUTH__NETCODE__PRIVATE_KEY_FILE)
# to /etc/iyesmp-keys/netcode.key in its Deployment.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: iyesmp
resources:
  - namespace.yaml
  - auth.yaml
${hostFiles.map((f) => `  - ${f.name}\n`).join('')}configMapGenerator:
  - name: iyesmp-${authName}
    files:
      - ${a.config}=bundles/${n.auth}/${a.config}
      - auth.pem=bundles/${n.auth}/${a.cert}
      - sessionauth.pem=bundles/${n.auth}/${a.sessionAuthCert}
${trust(n.auth)}${n.hosts
  .map(
    (name) => `  - name: iyesmp-${dnsLabel(name)}
    files:
      - ${h.config}=bundles/${name}/${h.config}
      - host.pem=bundles/${name}/${h.cert}
${trust(name)}`,
  )
  .join('')}secretGenerator:
  - name: iyesmp-${authName}-keys
    files:
      - auth.key=bundles/${n.auth}/${a.key}
      - sessionauth.key=bundles/${n.auth}/${a.sessionAuthKey}
${n.hosts
  .map(
    (name) => `  - name: iyesmp-${dnsLabel(name)}-keys
    files:
      - host.key=bundles/${name}/${h.key}
`,
  )
  .join('')}`;
  const namespace = `${header('The namespace of the deployment.')}apiVersion: v1\nkind: Namespace\nmetadata:\n  name: iyesmp\n`;
  return [{ name: 'kustomization.yaml', text: kustomization }, { name: 'namespace.yaml', text: namespace }, { name: 'auth.yaml', text: auth }, ...hostFiles];
}

/** The kind of deployment file `config check` was given, from its name (and for YAML, its content). */
export function deployKindOf(file: string, text: string): DeployKind | undefined {
  const base = file.split('/').pop() ?? file;
  if (base.endsWith('.service')) return 'systemd';
  if (base === 'Dockerfile' || base.endsWith('.Dockerfile')) return 'docker';
  if (/\.ya?ml$/.test(base)) {
    if (/^(docker-)?compose\b/.test(base) || /^services:/m.test(text)) return 'compose';
    if (/^kind: Kustomization$/m.test(text) || /^apiVersion: /m.test(text)) return 'k8s';
  }
  return undefined;
}

export interface FoundOverride {
  kind: 'auth' | 'host';
  variable: string;
  value: string;
  line: number;
}

/**
 * The IYESMP_AUTH__/IYESMP_HOST__ variables a deployment file sets, in the three spellings the
 * scaffolds write: `Environment=NAME=value` (systemd), `NAME: value` (compose), `{ name: NAME,
 * value: value }` (Kubernetes). Commented lines are skipped; quotes around the value are removed.
 */
export function overridesInText(text: string): FoundOverride[] {
  const found: FoundOverride[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('#')) return;
    const m = /(IYESMP_(AUTH|HOST)__[A-Za-z0-9_]+)(?:=|: |, value: )(.+?)\s*(?:}\s*)?$/.exec(line);
    if (!m) return;
    let value = m[3]!.trim();
    if (/^'.*'$/.test(value)) value = value.slice(1, -1).replace(/''/g, "'");
    else if (/^".*"$/.test(value)) value = JSON.parse(value) as string;
    found.push({ kind: m[2]!.toLowerCase() as 'auth' | 'host', variable: m[1]!, value, line: i + 1 });
  });
  return found;
}
