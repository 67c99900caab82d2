import { Errors, isPgStewardError, type PgStewardError } from '../errors.js';

/**
 * The SQLSTATE a PostgreSQL server sent with an error, or undefined for anything else. A Node system
 * error's code can have the same shape (EPIPE, EPERM), so an error that names a syscall or errno is none.
 */
export function sqlStateOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, syscall, errno } = err as { code?: unknown; syscall?: unknown; errno?: unknown };
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  return syscall === undefined && errno === undefined ? code : undefined;
}

/** The server refused the login (SQLSTATE class 28: a wrong password, or no pg_hba.conf entry). */
export const isAuthFailure = (err: unknown): boolean => sqlStateOf(err)?.startsWith('28') === true;

/**
 * The one place PostgreSQL errors become API errors, by SQLSTATE (never by message text).
 * A service may pass overrides for the states it expects, e.g. { '23505': Errors.tenantExists(id) }.
 */
export function translatePgError(err: unknown, overrides: Record<string, PgStewardError> = {}): unknown {
  if (isPgStewardError(err)) return err;
  const code = sqlStateOf(err);
  if (code === undefined) return err;
  const override = overrides[code];
  if (override) return override;
  switch (code) {
    case '23505': // unique_violation
    case '23P01': // exclusion_violation
      return Errors.conflict('The resource already exists.');
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
      return Errors.retryable();
    case '53300': // too_many_connections
    case '57P01': // admin_shutdown
    case '57P03': // cannot_connect_now
      return Errors.unavailable('The metadata database is not accepting connections; retry shortly.');
  }
  if (code.startsWith('08')) return Errors.unavailable('The metadata database connection failed; retry shortly.');
  return err; // anything else is our bug: the error handler logs it and answers a plain 500
}
