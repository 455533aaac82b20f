import type { Logger } from 'pino';
import type { HostConfig } from '../config/host.js';
import type { EmbeddedBroker, EmbeddedBrokerOptions } from '../mqtt/broker.js';
import { redisShared } from './config.js';
import { loadCredentials } from '../transport/credentials.js';
import { serveError } from './errors.js';
import { ReloadableVerifier } from './verifier.js';

/**
 * `iyesmp serve broker`: the embedded broker alone, from a host config (its certificate, listen
 * address, `[transports.mqtt]` port and limits). Hosts reach it with `broker = "mqtts://..."` and
 * keep their rooms' ACLs on it through the control topic.
 */
export async function brokerFromConfig(c: HostConfig, logger: Logger): Promise<{ broker: EmbeddedBroker; reload: () => Promise<void> }> {
  if (c.pki.key_passphrase_file)
    throw serveError('config_unsupported', 'pki.key_passphrase_file: encrypted keys are not supported yet; use an unencrypted key (mode 0600)');
  const m = c.transports.mqtt;
  const [verifier, creds] = await Promise.all([ReloadableVerifier.load(c.pki.trust_dir), loadCredentials({ cert: c.pki.cert, key: c.pki.key })]);
  const { EmbeddedBroker } = await import('../mqtt/broker.js');
  const broker = await EmbeddedBroker.start({
    cert: creds.cert,
    key: creds.key,
    verifier,
    host: c.listen.address,
    port: m.port,
    publicHost: c.host.public_address,
    maxPerAddress: m.max_connections_per_address,
    acl: { prefix: m.topic_prefix, publishRate: m.publish_rate, publishBurst: m.publish_rate * 2 },
    // several `serve broker` nodes (and hosts' embedded brokers) on one Redis act as one broker
    ...((await redisShared(m)) as Pick<EmbeddedBrokerOptions, 'mq' | 'persistence' | 'grants' | 'id'>),
    logger: { info: (f, msg) => logger.info(f, msg), warn: (f, msg) => logger.warn(f, msg) },
  });
  // SIGHUP: the trust list (a retired ClientAuth CA is refused from the next connection), then the
  // broker's own certificate; a bad file leaves the running ones in place
  const reload = async (): Promise<void> => {
    await verifier.reload();
    const next = await loadCredentials({ cert: c.pki.cert, key: c.pki.key });
    broker.setCertificate(next.cert, next.key);
  };
  return { broker, reload };
}
