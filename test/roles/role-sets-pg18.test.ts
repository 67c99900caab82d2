// Role sets on PostgreSQL 18, where CREATEROLE changed in 16 (see role-set-suite.ts).
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { pg18Skip, startPg18Cluster } from '../helpers/pg18.js';
import { roleSetSuite } from './role-set-suite.js';

t.test('PostgreSQL 18', { skip: pg18Skip }, async (t) => {
  const test = await buildTestApp(t);
  const cluster = await startPg18Cluster(t);
  await roleSetSuite(t, test, cluster);
});
