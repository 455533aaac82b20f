import { describe, expect, it } from 'vitest';
import { checkConfigText, type ConfigProblem } from '../../src/config/load.js';

const AUTH = `kind = "auth"
[pki]
trust_dir = "pki/trust"
cert = "pki/certs/auth.pem"
key = "pki/keys/auth.key.pem"
session_auth_cert = "pki/certs/session-auth.pem"
session_auth_key = "pki/keys/session-auth.key.pem"
`;
const HOST = `kind = "host"
[host]
name = "host-1"
public_address = "203.0.113.7"
[auth]
servers = ["127.0.0.1:7351"]
[pki]
trust_dir = "pki/trust"
cert = "pki/certs/host-1.pem"
key = "pki/keys/host-1.key.pem"
`;

function problems(text: string): ConfigProblem[] {
  const r = checkConfigText(text);
  return r.ok ? [] : r.problems;
}

describe('[admin_http], [logging] and [results.webhook] in the configs', () => {
  it('defaults: the admin listener on loopback (9464 auth, 9465 host), JSON logs, no webhook', () => {
    const a = checkConfigText(AUTH, { baseDir: '/etc/iyesmp' });
    const h = checkConfigText(HOST);
    if (!a.ok || a.kind !== 'auth' || !h.ok || h.kind !== 'host') throw new Error('the minimal configs should pass');
    expect(a.config.admin_http).toEqual({ enabled: true, listen: '127.0.0.1:9464' });
    expect(h.config.admin_http).toEqual({ enabled: true, listen: '127.0.0.1:9465' });
    expect(a.config.logging).toEqual({ level: 'info', format: 'json' });
    expect(a.config.results.webhook).toMatchObject({ queue_dir: '/etc/iyesmp/results-queue', timeout_seconds: 10, max_attempts: 50 });
    expect(a.config.results.webhook.url).toBeUndefined();
  });

  it('takes any listen address with a port, port 0 included, and pretty logs', () => {
    for (const listen of ['0.0.0.0:9464', '[::1]:9464', 'localhost:0', '127.0.0.1:0']) {
      expect(problems(`${AUTH}[admin_http]\nlisten = "${listen}"\n[logging]\nformat = "pretty"\n`), listen).toEqual([]);
    }
    expect(problems(`${HOST}[admin_http]\nenabled = false\n`)).toEqual([]);
  });

  it('refuses a listen address without a port or with a bad one, naming the key', () => {
    for (const listen of ['localhost', '127.0.0.1:99999', ':9464', 'a b:1']) {
      expect(problems(`${AUTH}[admin_http]\nlisten = "${listen}"\n`), listen).toEqual([
        expect.objectContaining({ path: 'admin_http.listen', message: expect.stringContaining('expected "host:port" to listen on') }),
      ]);
    }
    expect(problems(`${HOST}[admin_http]\nport = 9\n`)[0]?.path).toBe('admin_http.port');
  });

  it('a webhook needs https (http only on localhost) and a secret file', () => {
    expect(problems(`${AUTH}[results.webhook]\nurl = "https://results.example.com/x"\nsecret_file = "s"\n`)).toEqual([]);
    expect(problems(`${AUTH}[results.webhook]\nurl = "http://127.0.0.1:8080/x"\nsecret_file = "s"\n`)).toEqual([]);
    expect(problems(`${AUTH}[results.webhook]\nurl = "http://results.example.com/x"\nsecret_file = "s"\n`)).toEqual([
      expect.objectContaining({ path: 'results.webhook.url', message: expect.stringContaining('https://') }),
    ]);
    expect(problems(`${AUTH}[results.webhook]\nurl = "https://results.example.com/x"\n`)).toEqual([
      expect.objectContaining({ path: 'results.webhook.secret_file', message: expect.stringContaining('set secret_file too') }),
    ]);
  });
});
