import { isAuthFailure, sqlStateOf } from '../../db/pg-errors.js';
import { isPgStewardError, PgStewardError } from '../../errors.js';

/**
 * What failed when pgsteward could not reach a tenant's database, as a stable field beside the code
 * (PGS_AUTH_FAILED or PGS_CONNECTION_FAILED): the tenant learns whether to fix the password, the TLS
 * settings, the firewall or the host, without pgsteward saying more about the network than that.
 */
export type ConnectFailure = 'auth' | 'tls' | 'timeout' | 'refused' | 'dns' | 'network';

/** The same error with `category` among its extra fields (the problem document's, the check's). */
export function categorised(err: PgStewardError, category: ConnectFailure): PgStewardError {
  const out = new PgStewardError(err.code, err.statusCode, err.title, err.message, { ...err.extra, category });
  out.cause = err.cause;
  return out;
}

export function categoryOf(err: unknown): ConnectFailure | undefined {
  if (!isPgStewardError(err)) return undefined;
  const category = err.extra?.category;
  return typeof category === 'string' ? (category as ConnectFailure) : undefined;
}

// Node's TLS and OpenSSL errors: certificate verification (CERT_*, *_SIGNATURE, UNABLE_TO_*, SELF_SIGNED_*,
// ERR_TLS_CERT_ALTNAME_INVALID) and handshake failures (ERR_SSL_*).
const TLS_ERROR_CODE = /CERT|SSL|TLS|SIGNATURE|ISSUER|UNABLE_TO_|SELF_SIGNED/;

/**
 * Classifies a failed connection attempt. `plaintext` says the attempt that failed sent no TLS.
 *
 * Network errors are read from their errno codes. Two TLS cases have no code of their own:
 * node-postgres's own refusal when the server answers the SSLRequest with "N" (a fixed message of the
 * library, not of the server), and a server whose pg_hba.conf rejects a plaintext connection (SQLSTATE
 * 28000, the same as any pg_hba rejection, so the server's "no encryption" suffix is what tells them
 * apart; without it the failure stays `auth`).
 */
export function classifyConnectFailure(err: unknown, plaintext: boolean): ConnectFailure {
  if (isAuthFailure(err)) {
    const { message } = err as { message?: unknown };
    const hbaRejectsPlaintext =
      plaintext && sqlStateOf(err) === '28000' && typeof message === 'string' && /no encryption/.test(message);
    return hbaRejectsPlaintext ? 'tls' : 'auth';
  }
  if (isPgStewardError(err)) return categoryOf(err) ?? (err.code === 'PGS_AUTH_FAILED' ? 'auth' : 'network');
  const { code, message, library } = err as { code?: unknown; message?: unknown; library?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT' || /timeout/i.test(text)) return 'timeout';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return 'dns';
  if ((typeof code === 'string' && TLS_ERROR_CODE.test(code)) || library === 'SSL routines') return 'tls';
  if (/does not support SSL/.test(text)) return 'tls';
  return 'network';
}
