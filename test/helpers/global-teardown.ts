// tap's `after` script: stop the run's cluster. PGSTEWARD_TEST_KEEP=1 keeps its data for inspection.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { CLUSTER_STATE_FILE } from './database.js';
import { attachTestCluster, type TestClusterInfo } from './pg-cluster.js';

if (existsSync(CLUSTER_STATE_FILE)) {
  const info = JSON.parse(readFileSync(CLUSTER_STATE_FILE, 'utf8')) as TestClusterInfo;
  rmSync(CLUSTER_STATE_FILE);
  await attachTestCluster(info).stop({ keepData: process.env.PGSTEWARD_TEST_KEEP === '1' });
}
