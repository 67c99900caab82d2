import type pg from 'pg';
import type { Config } from '../config.js';
import { startEmbeddedPostgres } from './embedded.js';
import { loadMigrations, migrate } from './migrate.js';
import { assertRowSecurityApplies, type ConnectionSettings, createAppPool, ownerClient } from './pool.js';

export interface MetadataStore {
  /** The API's pool, also used by tasks for their own records. */
  pool: pg.Pool;
  /** The job engine's pool: claims, heartbeats, progress and outcomes (PGSTEWARD_JOB_POOL_SIZE). */
  enginePool: pg.Pool;
  /** Owner connection settings: for the job engine's dedicated LISTEN connection. */
  settings: ConnectionSettings;
  knownMigrations: number;
  embedded: boolean;
  close(): Promise<void>;
}

interface StoreLog {
  info(msg: string): void;
  warn(msg: string): void;
}

/**
 * The metadata database, ready for the application: DATABASE_URL's PostgreSQL or the embedded one,
 * migrated to this code's version, with a pool whose connections cannot bypass row-level security.
 */
export async function openMetadataStore(config: Config, log: StoreLog): Promise<MetadataStore> {
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, bindir: config.pgBindir, log });
  const settings: ConnectionSettings = embedded
    ? embedded.connection
    : { connectionString: config.databaseUrl as string };
  let pool: pg.Pool | undefined;
  try {
    const migrations = await loadMigrations();
    const owner = ownerClient(settings);
    await owner.connect();
    try {
      const report = await migrate(owner, migrations);
      if (report.applied.length > 0) log.info(`applied migrations: ${report.applied.join(', ')}`);
    } finally {
      await owner.end();
    }
    pool = createAppPool(settings, config.dbPoolSize);
    await assertRowSecurityApplies(pool);
    const appPool = pool;
    const enginePool = createAppPool(settings, config.jobs.poolSize, 'pgsteward-jobs');
    return {
      pool: appPool,
      enginePool,
      settings,
      knownMigrations: migrations.length,
      embedded: embedded !== undefined,
      close: async () => {
        await enginePool.end();
        await appPool.end();
        await embedded?.stop();
      },
    };
  } catch (err) {
    await pool?.end().catch(() => {});
    await embedded?.stop().catch(() => {});
    throw err;
  }
}
