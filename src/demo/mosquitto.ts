/**
 * `iyesmp demo --transport mqtt --broker mosquitto`: the machine's `mosquitto` binary on a free
 * loopback port with the config `iyesmp config scaffold mosquitto` writes (the dev PKI's host
 * certificate, dynamic security), stopped with the demo. Says clearly when mosquitto or its
 * dynamic-security plugin is missing.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { dynsecInitialState, findDynsecPlugin, mosquittoUsernameOfCert, renderMosquittoConfig } from '../mqtt/mosquitto.js';
import type { ManifestEntry } from '../pki/types.js';
import { demoError } from './errors.js';
import { withTimeout } from '../events/timeout.js';

export interface RunningMosquitto {
  url: string;
  config: string;
  stop(): Promise<void>;
}

export async function startMosquitto(devDir: string, pkiDir: string, entries: ManifestEntry[]): Promise<RunningMosquitto> {
  if (spawnSync('mosquitto', ['-h'], { stdio: 'ignore' }).error) {
    throw demoError('demo_no_mosquitto', 'the mosquitto binary is not on PATH', {
      hint: 'install Mosquitto 2 (Debian: apt-get install mosquitto), or use --broker embedded',
    });
  }
  const plugin = await findDynsecPlugin();
  if (!plugin)
    throw demoError('demo_no_mosquitto', "Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so) was not found", {
      hint: 'install Mosquitto 2.0 or newer',
    });
  const host = entries.find((e) => e.role === 'host');
  if (!host?.keyFile) throw demoError('demo_no_host', 'the dev PKI has no host certificate');
  const dir = path.join(devDir, 'mosquitto');
  await mkdir(dir, { recursive: true });
  const certfile = path.join(pkiDir, host.certFile);
  const hostPem = await readFile(certfile, 'utf8');
  const port = await freeTcpPort();
  const config = path.join(dir, 'mosquitto.conf');
  const dynsecFile = path.join(dir, 'dynamic-security.json');
  await writeFile(dynsecFile, dynsecInitialState(mosquittoUsernameOfCert(hostPem), 'game'), { mode: 0o600 });
  await writeFile(
    config,
    renderMosquittoConfig({
      host: '127.0.0.1',
      port,
      cafile: path.join(pkiDir, 'trust', 'master.pem'),
      certfile,
      keyfile: path.join(pkiDir, host.keyFile),
      plugin,
      dynsecFile,
      // the dev folder is this user's: mosquitto keeps running as it
      user: userInfo().username,
    }),
  );
  const child: ChildProcess = spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw demoError('demo_server_exited', `mosquitto exited at start (code ${child.exitCode}): ${stderr.trim()}`);
    if (await listening(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw demoError('demo_timeout', `mosquitto did not listen on 127.0.0.1:${port} within 10 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `mqtts://localhost:${port}`,
    config,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await withTimeout(exited, 3000);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    }).on('error', () => resolve(false));
  });
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
