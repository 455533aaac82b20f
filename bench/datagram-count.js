// Counts the UDP datagrams a bench's server process sends and receives (not a bench itself): wraps
// node:dgram's send and the socket's 'message' dispatch once per process, for every socket in it.
// The QUIC library sends one datagram per send call; the count costs an increment each.
import dgram from 'node:dgram';

const counts = { sent: 0, received: 0 };
let installed = false;

/** Starts counting (idempotent); returns the live counts. */
export function countDatagrams() {
  if (installed) return counts;
  installed = true;
  const proto = dgram.Socket.prototype;
  const send = proto.send;
  proto.send = function (...args) {
    counts.sent++;
    return send.apply(this, args);
  };
  const emit = proto.emit;
  proto.emit = function (name, ...args) {
    if (name === 'message') counts.received++;
    return emit.call(this, name, ...args);
  };
  return counts;
}
