// tap's `before` script: one PostgreSQL cluster and migrated template for the whole run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CLUSTER_STATE_FILE, startClusterWithTemplate } from './database.js';
import { attachTestCluster } from './pg-cluster.js';

const cluster = await startClusterWithTemplate();
const info = attachTestCluster({
  dir: dirname(cluster.dataDir),
  dataDir: cluster.dataDir,
  port: cluster.port,
  password: cluster.password,
  caCertPath: cluster.caCertPath,
  caCert: cluster.caCert,
  bindir: cluster.bindir,
  major: cluster.major,
}).info;
mkdirSync(dirname(CLUSTER_STATE_FILE), { recursive: true });
writeFileSync(CLUSTER_STATE_FILE, JSON.stringify(info), { mode: 0o600 });
