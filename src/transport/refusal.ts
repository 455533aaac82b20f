/**
 * How a refusal travels on the wire and what the refused side is told.
 *
 * A certificate refused during the TLS handshake closes the QUIC connection with a CRYPTO_ERROR
 * (0x100 + TLS alert). @matrixai/quic sends that close with an empty reason phrase, so the reason is
 * carried by the alert itself: every RefusalReason has its own alert below (stable: old and new builds
 * must agree), and the refused client maps it back. Refusals after the handshake (server full,
 * shutting down) are QUIC application closes whose reason phrase is the code.
 */
import type { RefusalReason } from '../pki/types.js';
import { IyesmpError } from '../errors.js';
import { transportError } from './errors.js';

/** TLS alert numbers (RFC 8446 section 6) used as CRYPTO_ERROR codes 0x100 + alert. */
const CRYPTO_BASE = 0x100;
const ALERT = {
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  internal_error: 80,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;

const REASON_ALERT: Record<RefusalReason, number> = {
  malformed: ALERT.decode_error,
  expired: ALERT.certificate_expired,
  not_yet_valid: ALERT.certificate_unknown,
  unknown_issuer: ALERT.unknown_ca,
  retired_clientauth: ALERT.certificate_revoked,
  wrong_role: ALERT.unsupported_certificate,
  wrong_session: ALERT.access_denied,
  wrong_fingerprint: ALERT.illegal_parameter,
  bad_signature: ALERT.decrypt_error,
};

const ALERT_REASON = new Map<number, RefusalReason>(Object.entries(REASON_ALERT).map(([r, a]) => [a, r as RefusalReason]));

/** The CRYPTO_ERROR code a verifyCallback returns to refuse for `reason`. */
export function refusalToCryptoError(reason: RefusalReason): number {
  return CRYPTO_BASE + REASON_ALERT[reason];
}

export const INTERNAL_CRYPTO_ERROR = CRYPTO_BASE + ALERT.internal_error;

/** Codes of application closes (QUIC CONNECTION_CLOSE type 0x1d); the reason phrase repeats the name. */
export const AppClose = {
  normal: 0,
  server_full: 1,
  shutting_down: 2,
  confirm_failed: 3,
  refused: 4,
  /** a limit on connections that have not logged in (the phrase says which: see admission.ts) */
  too_many_connections: 5,
  /** the connection did not reach its next stage in time (the phrase says which) */
  deadline: 6,
} as const;
export type AppCloseName = keyof typeof AppClose;

/** What a refused *client* reads, per reason: its own certificate was refused by the server. */
const CLIENT_SIDE_MESSAGES: Record<RefusalReason, { message: string; hint?: string }> = {
  retired_clientauth: {
    message: "this game build's certificate was retired: update the game",
    hint: 'the server no longer accepts certificates from this build; install the current version',
  },
  expired: { message: 'the server refused this certificate: it has expired', hint: 'renew the certificate' },
  not_yet_valid: {
    message: 'the server refused this certificate: it is not valid yet',
    hint: "check this machine's clock (and the server's)",
  },
  unknown_issuer: {
    message: "the server refused this certificate: it was not issued by the server's PKI",
    hint: 'is this certificate from another iyesmp installation?',
  },
  wrong_role: {
    message: 'the server refused this certificate: its role is not the one this server accepts',
    hint: 'use the certificate made for this connection (client, host or session)',
  },
  wrong_session: { message: 'the server refused this session certificate: it is for another session or player' },
  wrong_fingerprint: { message: 'the server refused this session certificate: it is not the one the host expects' },
  malformed: { message: 'the server refused this certificate chain: it could not be parsed' },
  bad_signature: { message: 'the server refused this certificate: its signature does not verify' },
};

/**
 * Interprets the CONNECTION_CLOSE a client received from a server as an IyesmpError, or undefined
 * when the close does not come from a refusal (for example a normal close).
 */
export function errorFromPeerClose(
  close: { isApp: boolean; errorCode: number; reason: Uint8Array },
  ctx: { alpn: string; address: string },
): IyesmpError | undefined {
  const phrase = Buffer.from(close.reason).toString('utf8');
  if (!close.isApp && close.errorCode >= CRYPTO_BASE && close.errorCode < CRYPTO_BASE + 0x100) {
    const alert = close.errorCode - CRYPTO_BASE;
    const reason = ALERT_REASON.get(alert);
    if (reason !== undefined) {
      const m = CLIENT_SIDE_MESSAGES[reason];
      return new IyesmpError('refused', reason, m.message, {
        ...(m.hint === undefined ? {} : { hint: m.hint }),
        details: { server: ctx.address, alert },
      });
    }
    if (alert === ALERT.no_application_protocol) {
      return transportError('wrong_alpn', `${ctx.address} does not speak ${ctx.alpn}`, {
        hint: 'check the port: auth, host-control and game connections use different protocols',
        details: { server: ctx.address, alpn: ctx.alpn },
      });
    }
    if (alert === ALERT.certificate_required) {
      return transportError('no_certificate', `${ctx.address} requires a client certificate`, {
        details: { server: ctx.address },
      });
    }
    return transportError('tls_failed', `the TLS handshake with ${ctx.address} failed (alert ${alert})`, {
      details: { server: ctx.address, alert },
    });
  }
  if (close.isApp) {
    switch (close.errorCode) {
      case AppClose.server_full:
        return transportError('server_full', `${ctx.address} is full: it refused a new connection`, {
          hint: 'try again later or another server',
        });
      case AppClose.shutting_down:
        return transportError('shutting_down', `${ctx.address} is shutting down`);
      case AppClose.confirm_failed:
        return transportError('confirm_failed', `${ctx.address} did not complete the connection confirmation`);
      case AppClose.too_many_connections:
        return transportError('too_many_connections', `${ctx.address} refused the connection: ${phrase}`, {
          hint: 'close connections that have not logged in, or try again later',
          details: { server: ctx.address, reason: phrase },
        });
      case AppClose.deadline:
        return transportError('deadline', `${ctx.address} closed the connection: ${phrase}`, {
          hint: "a connection must open its stream, say hello and log in within the server's deadlines",
          details: { server: ctx.address, reason: phrase },
        });
      case AppClose.refused:
        return new IyesmpError('refused', phrase || 'refused', `${ctx.address} refused the connection: ${phrase}`);
      default:
        return undefined;
    }
  }
  return transportError('transport_error', `${ctx.address} closed the connection (QUIC error ${close.errorCode})`, {
    details: { server: ctx.address, code: close.errorCode, reason: phrase },
  });
}

/** The error a client reports when it refuses the *server's* certificate itself. */
export function serverCertRefused(reason: string, message: string, address: string): IyesmpError {
  return new IyesmpError('refused', reason, `refused the certificate of ${address}: ${message}`, {
    hint: 'the server presented a certificate this client does not accept for this connection',
    details: { server: address },
  });
}
