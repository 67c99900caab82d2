import { Errors } from '../errors.js';

/** libpq's sslmode values that pgsteward supports ('allow' is left out: it prefers plaintext). */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const APPLICATION_NAME = 'pgsteward';

/**
 * What a tool needs to reach one database. There is deliberately no password field: the password only
 * ever travels in a passfile (see passfile.ts), never in argv, where every local user can read it.
 */
export interface ConninfoParams {
  /** The name the user gave: libpq verifies the certificate against it and matches it in the passfile. */
  host: string;
  /** The address the network guard checked; libpq connects to exactly this, without resolving `host`. */
  hostaddr?: string;
  port: number;
  dbname: string;
  user: string;
  sslmode: SslMode;
  /** Paths to files, not PEM: libpq reads certificates from disk. */
  sslrootcert?: string;
  sslcert?: string;
  sslkey?: string;
  sslcrl?: string;
  applicationName?: string;
  /** libpq's require_auth (libpq 16 and newer only; older tools refuse the keyword). */
  requireAuth?: string;
}

/**
 * The first libpq that knows require_auth. From it on, pgsteward's tools accept only SCRAM (or no
 * password exchange at all), as node-postgres does (src/domain/targets/connect.ts): a server that asks
 * for the password in cleartext or as MD5 gets a refusal instead.
 */
export const REQUIRE_AUTH_MIN_MAJOR = 16;
export const REQUIRE_AUTH_SCRAM_ONLY = 'scram-sha-256,none';

/** The require_auth value for a tool of this major, or undefined where libpq does not know the keyword. */
export const requireAuthFor = (toolMajor: number | undefined): string | undefined =>
  toolMajor !== undefined && toolMajor >= REQUIRE_AUTH_MIN_MAJOR ? REQUIRE_AUTH_SCRAM_ONLY : undefined;

/**
 * A conninfo value in single quotes. Inside quotes libpq treats a backslash as "take the next character
 * literally", so backslashes and single quotes are the only characters that need escaping.
 */
export function quoteConninfoValue(value: string): string {
  if (value.includes('\0')) throw Errors.targetIncomplete('A connection setting must not contain a NUL character.');
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * Refuses database names that tools would misread. A name containing '=' is taken for a whole conninfo
 * string wherever a tool reuses the name on its own (pg_dumpall connecting to each database, pg_dump
 * reconnecting); a name starting with '-' reads as an option when a tool passes it on as an argument.
 */
export function assertUsableDatabaseName(dbname: string): void {
  if (dbname === '') throw Errors.targetIncomplete('The database name is empty.');
  if (dbname.includes('\0')) throw Errors.targetIncomplete('The database name contains a NUL character.');
  if (dbname.includes('=')) {
    throw Errors.targetIncomplete(`The database name '${dbname}' contains '=', which PostgreSQL tools misread.`);
  }
  if (dbname.startsWith('-')) {
    throw Errors.targetIncomplete(`The database name '${dbname}' starts with '-', which PostgreSQL tools misread.`);
  }
}

/**
 * Builds a libpq keyword/value connection string, e.g.
 * `host='db.example.com' hostaddr='10.0.0.5' port='5432' dbname='app' user='backup' sslmode='verify-full'
 * sslrootcert='/tmp/pgsteward-job-1-x/root.crt' application_name='pgsteward'`.
 * Keywords are fixed here, one by one, so no caller-supplied key (a password, say) can ever get in.
 */
export function buildConninfo(params: ConninfoParams): string {
  assertUsableDatabaseName(params.dbname);
  if (params.host === '') throw Errors.targetIncomplete('The host is empty.');
  if (params.user === '') throw Errors.targetIncomplete('The user name is empty.');
  if (!Number.isInteger(params.port) || params.port < 1 || params.port > 65_535) {
    throw Errors.targetIncomplete(`The port ${params.port} is not between 1 and 65535.`);
  }
  if (!SSL_MODES.includes(params.sslmode)) throw Errors.targetIncomplete(`Unknown sslmode '${params.sslmode}'.`);

  const pairs: Array<[string, string | undefined]> = [
    ['host', params.host],
    ['hostaddr', params.hostaddr],
    ['port', String(params.port)],
    ['dbname', params.dbname],
    ['user', params.user],
    ['sslmode', params.sslmode],
    ['sslrootcert', params.sslrootcert],
    ['sslcert', params.sslcert],
    ['sslkey', params.sslkey],
    ['sslcrl', params.sslcrl],
    ['application_name', params.applicationName ?? APPLICATION_NAME],
    ['require_auth', params.requireAuth],
  ];
  return pairs
    .filter((pair): pair is [string, string] => pair[1] !== undefined)
    .map(([key, value]) => `${key}=${quoteConninfoValue(value)}`)
    .join(' ');
}

/**
 * The argv element that hands a conninfo to pg_dump, pg_restore, psql or pg_dumpall. The `--opt=value`
 * form keeps the string one argument, even if it began with '-'.
 */
export function dbnameArgument(conninfo: string): string {
  return `--dbname=${conninfo}`;
}
