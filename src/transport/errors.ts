import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by the QUIC transport, and its kind (the CLI exit code follows the kind). */
export const TRANSPORT_ERRORS = {
  bad_allow_entry: 'input',
  bad_proxy_range: 'input',
  bad_alpn: 'usage',
  bad_limits: 'usage',
  bind_failed: 'io',
  confirm_failed: 'io',
  deadline: 'io',
  no_certificate: 'refused',
  no_server_peer: 'internal',
  quic_failed: 'io',
  quic_start_failed: 'internal',
  reload_failed: 'io',
  server_full: 'io',
  shutting_down: 'io',
  socket_failed: 'io',
  stream_limit: 'conflict',
  timeout: 'io',
  tls_bad_cert: 'input',
  tls_bad_key: 'input',
  tls_failed: 'refused',
  tls_file_unreadable: 'io',
  tls_key_mismatch: 'input',
  too_many_connections: 'io',
  transport_error: 'io',
  wrong_alpn: 'refused',
} as const;
export type TransportErrorCode = ErrorCodeOf<typeof TRANSPORT_ERRORS>;
export const transportError = errorFactory(TRANSPORT_ERRORS);
