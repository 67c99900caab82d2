import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { isAuthFailure } from '../../db/pg-errors.js';
import { Errors, isPgStewardError } from '../../errors.js';
import {
  APPLICATION_NAME,
  assertUsableDatabaseName,
  buildConninfo,
  requireAuthFor,
  type SslMode,
} from '../../pgtools/conninfo.js';
import { withPrivateToolDir, writePassfile } from '../../pgtools/passfile.js';
import { redactSecrets } from '../../pgtools/run-tool.js';
import { type ConnectFailure, categorised, classifyConnectFailure } from './connect-failure.js';
import type { CheckedAddress } from './network-guard.js';

/**
 * One meaning of sslmode for both ways pgsteward reaches a tenant's database: node-postgres (health
 * checks, catalog queries) and libpq (pg_dump, pg_restore, psql). libpq defines the meaning:
 *
 * - disable: no TLS.
 * - prefer: TLS if it works, else plaintext. libpq retries without TLS when the server refuses TLS, when
 *   the handshake fails, and when authentication over TLS fails; node-postgres cannot fall back by itself,
 *   so connectToTarget makes a second, plaintext attempt in the same cases.
 * - require: TLS without verification; but given a root certificate, libpq verifies the chain (as
 *   verify-ca), and so do we.
 * - verify-ca: chain checked against sslrootcert (or the default CA bundle); host name not checked.
 * - verify-full: chain and host name; the name checked is the target's host as the user gave it, never
 *   the resolved address.
 *
 * pg 8.23 reads sslmode=require in a connection string as verify-full, so no connection string is used:
 * the `ssl` object is built here. libpq's defaults under ~/.postgresql (root.crt, root.crl, and a client
 * certificate and key that would be presented to every tenant's server) are shut out by pointing those
 * settings at absent files in the job's private directory.
 */

export type { SslMode } from '../../pgtools/conninfo.js';

export interface TargetEndpoint {
  host: string;
  port: number;
  database: string;
  sslMode: SslMode;
  /** PEM text of the CA certificate(s) to trust, from the target's secret. */
  sslrootcert?: string;
}

export interface TargetCredentials {
  username: string;
  password: string;
}

/** A node-postgres config, plus whether connectToTarget may retry without TLS (sslmode=prefer). */
export interface TargetClientConfig extends pg.ClientConfig {
  tlsFallback: boolean;
}

export const TARGET_CONNECT_TIMEOUT_MS = 10_000;

function assertCertificatePem(pem: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    throw Errors.targetIncomplete('sslrootcert is not a PEM-encoded X.509 certificate.');
  }
}

function assertSameHost(endpoint: TargetEndpoint, checked: CheckedAddress): void {
  // The name verified in TLS and matched in the passfile must be the one whose address was checked.
  if (endpoint.host !== checked.host) throw new Error('the checked address belongs to a different host');
}

const skipHostnameCheck = () => undefined;

/** The `ssl` option for node-postgres, per the table above. */
function nodeTlsOptions(endpoint: TargetEndpoint): tls.ConnectionOptions | false {
  const { sslMode, sslrootcert, host } = endpoint;
  if (sslMode === 'disable') return false;
  if (sslrootcert !== undefined) assertCertificatePem(sslrootcert);
  // SNI, as libpq sends it: the host name, and nothing for an IP literal (RFC 6066 forbids it).
  const servername = isIP(host) === 0 ? host : undefined;
  const ca = sslrootcert === undefined ? {} : { ca: sslrootcert };
  if ((sslMode === 'prefer' || sslMode === 'require') && sslrootcert === undefined) {
    return { servername, rejectUnauthorized: false };
  }
  if (sslMode === 'verify-full') {
    return {
      servername,
      ...ca,
      rejectUnauthorized: true,
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
    };
  }
  // verify-ca, and require/prefer given a root certificate.
  return { servername, ...ca, rejectUnauthorized: true, checkServerIdentity: skipHostnameCheck };
}

/**
 * The node-postgres config for a target: connects to the checked address, verifies TLS per sslmode,
 * 10 s connect timeout. No statement_timeout is set: the session runs with the server's own settings.
 */
export function targetClientConfig(
  endpoint: TargetEndpoint,
  checked: CheckedAddress,
  credentials: TargetCredentials,
): TargetClientConfig {
  assertSameHost(endpoint, checked);
  assertUsableDatabaseName(endpoint.database);
  return {
    host: checked.address,
    port: endpoint.port,
    database: endpoint.database,
    user: credentials.username,
    password: credentials.password,
    // Always explicit: left undefined, node-postgres would fall back to PGSSLMODE from our environment.
    ssl: nodeTlsOptions(endpoint),
    connectionTimeoutMillis: TARGET_CONNECT_TIMEOUT_MS,
    application_name: APPLICATION_NAME,
    keepAlive: true,
    tlsFallback: endpoint.sslMode === 'prefer',
  };
}

/** Network-level failures happen before TLS is attempted; libpq does not retry those without TLS. */
function failedBeforeTls(err: unknown): boolean {
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT'].includes(code)) {
    return true;
  }
  return typeof message === 'string' && /timeout/i.test(message);
}

const CATEGORY_LEAD: Record<ConnectFailure, string> = {
  auth: 'The target refused the login',
  tls: 'TLS with the target failed',
  timeout: `The target did not answer within ${TARGET_CONNECT_TIMEOUT_MS / 1000} s`,
  refused: 'The target refused the connection (nothing listens there, or a firewall rejects it)',
  dns: 'The target host could not be resolved',
  network: 'Could not connect to the target',
};

function translateConnectError(err: unknown, plaintext: boolean): Error {
  const category = classifyConnectFailure(err, plaintext);
  if (isPgStewardError(err)) return categorised(err, category);
  const { message } = err as { message?: unknown };
  const detail = redactSecrets(typeof message === 'string' ? message : String(err));
  const why = `${CATEGORY_LEAD[category]}: ${detail}`;
  const translated = isAuthFailure(err) ? Errors.targetAuthFailed(why) : Errors.targetConnectionFailed(why);
  translated.cause = err;
  return categorised(translated, category);
}

/**
 * Only SCRAM may have the password. A server that asks for it in cleartext (`password`) or as MD5 learns
 * the password itself, or a hash that logs in as well as the password does, so such a request is
 * refused before node-postgres answers it: the password is handed over through a function, which runs
 * only after the listeners below (registered before the client's own) have seen which method was asked for.
 */
function refusingWeakPasswordAuth(config: pg.ClientConfig): pg.Client {
  const password = config.password;
  let weakMethod: string | undefined;
  const client = new pg.Client({
    ...config,
    password: () => {
      if (weakMethod !== undefined) {
        throw Errors.targetAuthFailed(
          `The server asked for the password ${weakMethod}; pgsteward sends passwords only through SCRAM-SHA-256. Set the role's password with password_encryption = 'scram-sha-256' and use scram-sha-256 in pg_hba.conf.`,
        );
      }
      return typeof password === 'function' ? password() : (password ?? '');
    },
  });
  const connection = (client as unknown as { connection: import('node:events').EventEmitter }).connection;
  connection.on('authenticationCleartextPassword', () => {
    weakMethod = 'in cleartext';
  });
  connection.on('authenticationMD5Password', () => {
    weakMethod = 'as an MD5 hash';
  });
  return client;
}

async function connectOnce(config: pg.ClientConfig): Promise<pg.Client> {
  const client = refusingWeakPasswordAuth(config);
  // An idle connection that breaks emits 'error'; without a listener that would crash the process.
  // Queries on the broken client still reject, which is where callers learn about it.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}

/**
 * Connects to a target with a config from targetClientConfig. Throws Errors.targetAuthFailed (SQLSTATE
 * class 28) or Errors.targetConnectionFailed; for sslmode=prefer a failed TLS attempt is retried once
 * without TLS, as libpq does.
 */
export async function connectToTarget(config: TargetClientConfig): Promise<pg.Client> {
  const { tlsFallback, ...clientConfig } = config;
  try {
    return await connectOnce(clientConfig);
  } catch (err) {
    const plaintext = clientConfig.ssl === false;
    if (!tlsFallback || plaintext || failedBeforeTls(err)) throw translateConnectError(err, plaintext);
  }
  try {
    return await connectOnce({ ...clientConfig, ssl: false });
  } catch (err) {
    throw translateConnectError(err, true);
  }
}

/** What a tool run needs: the environment entry for the passfile and the conninfo for --dbname. */
export interface ToolCredentials {
  env: { PGPASSFILE: string };
  conninfo: string;
}

/**
 * Runs `use` with a private directory holding the passfile and, when TLS is verified, the root
 * certificate file libpq needs; both are deleted afterwards, even when `use` throws. The conninfo
 * carries no password.
 */
export async function withToolCredentials<T>(
  endpoint: TargetEndpoint,
  checked: CheckedAddress,
  credentials: TargetCredentials,
  use: (tool: ToolCredentials) => Promise<T>,
  /** The oldest major among the tools that will use the conninfo: from 16 on, it carries require_auth. */
  toolMajor?: number,
): Promise<T> {
  assertSameHost(endpoint, checked);
  assertUsableDatabaseName(endpoint.database);
  if (endpoint.sslrootcert !== undefined) assertCertificatePem(endpoint.sslrootcert);
  return withPrivateToolDir(async (dir) => {
    const passfile = await writePassfile(dir, {
      host: endpoint.host, // libpq matches `host`, not `hostaddr`, when both are set
      port: endpoint.port,
      database: endpoint.database,
      user: credentials.username,
      password: credentials.password,
    });
    const tlsFiles = endpoint.sslMode === 'disable' ? {} : await writeTlsFiles(dir, endpoint);
    const conninfo = buildConninfo({
      host: endpoint.host,
      hostaddr: checked.address,
      port: endpoint.port,
      dbname: endpoint.database,
      user: credentials.username,
      sslmode: endpoint.sslMode,
      ...tlsFiles,
      ...(requireAuthFor(toolMajor) === undefined ? {} : { requireAuth: requireAuthFor(toolMajor) }),
    });
    return use({ env: { PGPASSFILE: passfile }, conninfo });
  });
}

async function writeTlsFiles(dir: string, endpoint: TargetEndpoint) {
  const sslrootcert = join(dir, 'root.crt');
  const verifies = endpoint.sslMode === 'verify-ca' || endpoint.sslMode === 'verify-full';
  // Without a PEM from the secret, verify-* trusts the same bundle node-postgres uses (Node's); for
  // prefer/require the file stays absent, which libpq reads as "do not verify".
  const pem = endpoint.sslrootcert ?? (verifies ? tls.rootCertificates.join('\n') : undefined);
  if (pem !== undefined) await writeFile(sslrootcert, pem, { mode: 0o600, flag: 'wx' });
  return {
    sslrootcert,
    sslcert: join(dir, 'absent-client.crt'),
    sslkey: join(dir, 'absent-client.key'),
    sslcrl: join(dir, 'absent-root.crl'),
  };
}
