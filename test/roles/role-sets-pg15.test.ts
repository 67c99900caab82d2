// Role sets on the harness's PostgreSQL 15 (see role-set-suite.ts).
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { roleSetSuite } from './role-set-suite.js';

const test = await buildTestApp(t);
await roleSetSuite(t, test, test.db.cluster);
