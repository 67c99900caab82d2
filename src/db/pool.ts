import pg from 'pg';

/** The role every application connection runs as: it cannot bypass row-level security. */
export const APP_ROLE = 'pgsteward_app';

export type ConnectionSettings =
  | { connectionString: string }
  | { host: string; port: number; user: string; password: string; database: string; ssl?: pg.ClientConfig['ssl'] };

/**
 * libpq and node-postgres disagree on sslmode=require (pg 8 treats it as verify-full). Ask pg for
 * libpq's meaning so DATABASE_URL behaves the way the PostgreSQL docs say it does.
 */
export function withLibpqSslSemantics(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.searchParams.has('sslmode') && !url.searchParams.has('uselibpqcompat')) {
    url.searchParams.set('uselibpqcompat', 'true');
  }
  return url.toString();
}

function baseConfig(settings: ConnectionSettings): pg.ClientConfig {
  return 'connectionString' in settings
    ? { connectionString: withLibpqSslSemantics(settings.connectionString) }
    : { ...settings };
}

/** A single owner-privileged client, for migrations and start-up checks. */
export function ownerClient(settings: ConnectionSettings): pg.Client {
  return new pg.Client({ ...baseConfig(settings), application_name: 'pgsteward-migrate' });
}

/**
 * A dedicated session as APP_ROLE, outside the pool: for what must hold one connection for a long time
 * (LISTEN, a session-level advisory lock). Kept alive, so a dead peer is noticed.
 */
export function appSessionClient(settings: ConnectionSettings, applicationName: string): pg.Client {
  return new pg.Client({
    ...baseConfig(settings),
    application_name: applicationName,
    options: `-c role=${APP_ROLE}`,
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
  });
}

/**
 * The application pool: every connection starts as APP_ROLE (a startup GUC, so no window without it).
 * The job engine gets a second, small one (application_name pgsteward-jobs), so that API load waiting
 * for the first cannot delay a lease renewal.
 */
export function createAppPool(settings: ConnectionSettings, max: number, applicationName = 'pgsteward'): pg.Pool {
  const pool = new pg.Pool({
    ...baseConfig(settings),
    max,
    application_name: applicationName,
    options: `-c role=${APP_ROLE}`,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // Queries are written without waiting for the previous answer: inTenantScope sends BEGIN and the
    // tenant with the first statement, readInTenantScope a whole read in one round trip. Code that awaits
    // each query behaves as before. (pg 8.23's option; @types/pg does not know it yet.)
    pipeline: true,
  } as pg.PoolConfig);
  // An idle client losing its server must not crash the process; the next checkout reconnects.
  pool.on('error', () => {});
  // Nor may a checked-out one between two queries of a transaction (a failover, a reset): its next query
  // fails instead, and inTenantScope then destroys it rather than returning it to the pool.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Refuse to run if the application role could see every tenant anyway (superuser or BYPASSRLS):
 * tenancy must not depend on every query remembering its WHERE clause.
 */
export async function assertRowSecurityApplies(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ role: string; bypass: boolean }>(
    'SELECT current_user AS role, (rolsuper OR rolbypassrls) AS bypass FROM pg_roles WHERE rolname = current_user',
  );
  const row = rows[0];
  if (!row || row.role !== APP_ROLE || row.bypass) {
    throw new Error(`application connections run as '${row?.role}', which bypasses row-level security`);
  }
}
