import type { PeerConnection, PeerStream } from '../transport/index.js';

/**
 * Both Auth protocols (clients' auth, hosts' hostctl) run on one control stream per connection:
 * the first stream opens the link, later ones are refused, and the link closes with the connection.
 */
export function acceptControlStream(conn: PeerConnection, protocol: string, open: (stream: PeerStream) => { close(): void }): void {
  let link: { close(): void } | undefined;
  conn.on('stream', (stream) => {
    if (link) {
      stream.cancel(`the ${protocol} protocol uses one stream`);
      return;
    }
    link = open(stream);
  });
  conn.on('close', () => link?.close());
}
