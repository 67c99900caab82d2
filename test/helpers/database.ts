import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/db/migrate.js';
import { type ConnectionSettings, createAppPool } from '../../src/db/pool.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { attachTestCluster, startTestCluster, type TestCluster, type TestClusterInfo } from './pg-cluster.js';

/**
 * One PostgreSQL cluster per test run (started by tap's `before` script, see global-setup.ts), a
 * template database migrated once, and a fresh copy of it per test file: graphile-worker's approach.
 * Run a single file without tap's before script and it starts a private cluster instead.
 */
// Keyed by the tap runner's pid (the parent of the before script, the after script and every test
// file), so concurrent `tap` runs in one checkout never share, or stop, each other's cluster.
export const CLUSTER_STATE_FILE = join(PROJECT_ROOT, '.tap', `pg-cluster-${process.ppid}.json`);
export const TEMPLATE_DATABASE = 'pgsteward_template';

interface Teardownable {
  teardown(fn: () => unknown): void;
  passing(): boolean;
  comment(...args: unknown[]): void;
}

let clusterPromise: Promise<TestCluster> | undefined;

async function createTemplate(cluster: TestCluster): Promise<void> {
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const client = new pg.Client(cluster.clientConfig(TEMPLATE_DATABASE));
  await client.connect();
  try {
    await migrate(client, await loadMigrations());
  } finally {
    await client.end();
  }
}

/** Used by global-setup.ts, and by a file run on its own. */
export async function startClusterWithTemplate(): Promise<TestCluster> {
  const cluster = await startTestCluster();
  try {
    await createTemplate(cluster);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

async function clusterIsAlive(info: TestClusterInfo): Promise<boolean> {
  const client = new pg.Client({ ...attachTestCluster(info).clientConfig(), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The run's shared cluster if tap started one, else a private one stopped when this process exits. */
export function testCluster(t: Teardownable): Promise<TestCluster> {
  clusterPromise ??= (async () => {
    if (existsSync(CLUSTER_STATE_FILE)) {
      const info = JSON.parse(readFileSync(CLUSTER_STATE_FILE, 'utf8')) as TestClusterInfo;
      if (await clusterIsAlive(info)) return attachTestCluster(info);
    }
    const own = await startClusterWithTemplate();
    t.teardown(() => own.stop());
    return own;
  })();
  return clusterPromise;
}

export interface TestDatabase {
  cluster: TestCluster;
  name: string;
  /** Owner (superuser) settings: migrations, fixtures, and looking behind the application's back. */
  ownerSettings: ConnectionSettings & { database: string };
  /** An application pool: connections run as pgsteward_app, subject to row-level security. */
  appPool: pg.Pool;
  /** Run `fn` at teardown before the pools close (stop workers and apps that use the database). */
  beforeClose(fn: () => Promise<unknown> | unknown): void;
  /** Run SQL as the owner. */
  ownerQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
}

/**
 * A fresh, migrated database for one test file. Dropped afterwards if the file passed; kept for
 * inspection (its name is printed) if it failed.
 */
export async function createTestDatabase(t: Teardownable): Promise<TestDatabase> {
  const cluster = await testCluster(t);
  const name = `test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const config = cluster.clientConfig(name);
  const ownerSettings = {
    host: cluster.host,
    port: cluster.port,
    user: cluster.superuser,
    password: cluster.password,
    database: name,
    ssl: config.ssl,
  };
  const appPool = createAppPool(ownerSettings, 5);
  const ownerPool = new pg.Pool({ ...config, max: 3 });
  const closers: (() => Promise<unknown> | unknown)[] = [];
  t.teardown(async () => {
    // Last registered, first closed: an app stops before the worker it drives, both before the pools.
    for (const close of closers.reverse()) await close();
    // end() can resolve before its sockets are gone; the forced DROP below then terminates one, and an
    // idle client's error with no listener would crash the file after its tests passed.
    for (const pool of [appPool, ownerPool]) pool.on('error', () => {});
    await appPool.end();
    await ownerPool.end();
    if (!t.passing()) {
      t.comment(`kept database ${name} on port ${cluster.port} for inspection`);
      return;
    }
    const cleanup = new pg.Client(cluster.clientConfig());
    await cleanup.connect();
    try {
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await cleanup.end();
    }
  });
  return {
    cluster,
    name,
    ownerSettings,
    appPool,
    beforeClose: (fn) => closers.push(fn),
    ownerQuery: async (text, values) => (await ownerPool.query(text, values)).rows,
  };
}
