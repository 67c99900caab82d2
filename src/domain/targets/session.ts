import type pg from 'pg';
import { isAuthFailure } from '../../db/pg-errors.js';
import { Errors, isPgStewardError } from '../../errors.js';
import type { SslMode } from '../../pgtools/conninfo.js';
import type { DbSecret } from '../../secrets/db-secret.js';
import type { Services } from '../services.js';
import {
  connectToTarget,
  type TargetEndpoint,
  type ToolCredentials,
  targetClientConfig,
  withToolCredentials,
} from './connect.js';
import { type CheckedAddress, resolveTargetAddress } from './network-guard.js';
import type { TargetRow } from './queries.js';

/** Where a target really is: its own fields first, the secret's (RDS shape) for whatever it leaves out. */
export function targetEndpoint(target: TargetRow, secret: DbSecret): TargetEndpoint {
  const host = target.host ?? secret.host;
  if (!host) throw Errors.targetIncomplete(`Target '${target.name}' has no host, and neither has its secret.`);
  const database = target.database ?? secret.dbname;
  if (!database) {
    throw Errors.targetIncomplete(`Target '${target.name}' names no database, and neither does its secret (dbname).`);
  }
  return {
    host,
    port: target.port ?? secret.port ?? 5432,
    database,
    sslMode: target.ssl_mode as SslMode,
    ...(secret.sslrootcert ? { sslrootcert: secret.sslrootcert } : {}),
  };
}

// A refused login, whether a session saw it (SQLSTATE class 28) or connectToTarget translated it.
const loginRefused = (err: unknown) => isAuthFailure(err) || (isPgStewardError(err) && err.code === 'PGS_AUTH_FAILED');

export interface TargetAccess {
  endpoint: TargetEndpoint;
  checked: CheckedAddress;
  secret: DbSecret;
}

/**
 * Fetch the target's secret, resolve and check its address once, and run `use` with both. If the
 * credentials are refused, the secret is fetched again once (it may have been rotated) and `use` re-run.
 */
export function withTargetAccess<T>(
  services: Services,
  target: TargetRow,
  use: (access: TargetAccess) => Promise<T>,
): Promise<T> {
  return services.secrets.withRotationRetry(
    target.secret_ref,
    async (secret) => {
      const endpoint = targetEndpoint(target, secret);
      const checked = await resolveTargetAddress(endpoint.host, services.network);
      return use({ endpoint, checked, secret });
    },
    loginRefused,
  );
}

/**
 * The same target, credentials and checked address, but another database on that server: a restore
 * works on a database it creates, and manages databases from a session on another one.
 */
export function onDatabase(access: TargetAccess, database: string): TargetAccess {
  return { ...access, endpoint: { ...access.endpoint, database } };
}

/** A node-postgres session on the target, closed afterwards. */
export async function withTargetClient<T>(access: TargetAccess, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectToTarget(targetClientConfig(access.endpoint, access.checked, access.secret));
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A per-job passfile (0600) and conninfo for the PostgreSQL tools; both gone when `use` returns. */
export function withTargetTools<T>(access: TargetAccess, use: (tool: ToolCredentials) => Promise<T>): Promise<T> {
  return withToolCredentials(access.endpoint, access.checked, access.secret, use);
}
