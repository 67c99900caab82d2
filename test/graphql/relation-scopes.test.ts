import t from 'tap';
import { ADMIN_SCOPE, SCOPES, type Scope } from '../../src/auth/scopes.js';
import { getBackupsByIds } from '../../src/domain/backups/service.js';
import type { Ctx } from '../../src/domain/context.js';
import { getDrillPoliciesByTargets } from '../../src/domain/drills/service.js';
import { getJobsByIds } from '../../src/domain/jobs/service.js';
import { getRestoresByIds } from '../../src/domain/restores/service.js';
import { getTargetsByIds } from '../../src/domain/targets/service.js';
import { bearer, buildTestApp } from '../helpers/app.js';

const { app, db, services, token, seedTenants } = await buildTestApp(t);
await seedTenants('acme');

// One of each related row, written as the owner: the relations, not how the rows came to be, are tested.
const insert = async (sql: string, values: unknown[] = []): Promise<string> => {
  const [row] = await db.ownerQuery<{ id: string }>(sql, values);
  if (!row) throw new Error(`no row from ${sql}`);
  return row.id;
};
const targetId = await insert(
  `INSERT INTO targets (tenant_id, name, secret_ref) VALUES ('acme', 'main', 'file:acme/main') RETURNING id`,
);
const backupId = await insert(
  `INSERT INTO backups (tenant_id, target_id, format, options) VALUES ('acme', $1, 'custom', '{"format": "custom"}')
   RETURNING id`,
  [targetId],
);
const restoreId = await insert(
  `INSERT INTO restores (tenant_id, backup_id, target_id, database, mode, options)
   VALUES ('acme', $1, $2, 'restored', 'create', '{}') RETURNING id`,
  [backupId, targetId],
);
const jobId = await insert(
  `INSERT INTO jobs (tenant_id, kind, target_id, subjects)
   VALUES ('acme', 'restore', $1, jsonb_build_object('backup', $2::text, 'restore', $3::text)) RETURNING id`,
  [targetId, backupId, restoreId],
);
await db.ownerQuery('UPDATE backups SET job_id = $1 WHERE id = $2', [jobId, backupId]);
await db.ownerQuery('UPDATE restores SET job_id = $1 WHERE id = $2', [jobId, restoreId]);
await db.ownerQuery(`INSERT INTO drill_policies (target_id, tenant_id, schedule) VALUES ($1, 'acme', '0 3 * * *')`, [
  targetId,
]);

const ctxWith = (scopes: Scope[]): Ctx => ({
  actor: 'tester',
  tenantId: 'acme',
  scopes: new Set(scopes),
  requestId: 'relation-scopes',
  pool: db.appPool,
  services,
});

type BatchLoad = (ctx: Ctx, ids: string[]) => Promise<Map<string, unknown>>;
const batches: { name: string; scope: Scope; load: BatchLoad; id: string }[] = [
  { name: 'getTargetsByIds', scope: 'targets:read', load: getTargetsByIds, id: targetId },
  { name: 'getBackupsByIds', scope: 'backups:read', load: getBackupsByIds, id: backupId },
  { name: 'getRestoresByIds', scope: 'backups:read', load: getRestoresByIds, id: restoreId },
  { name: 'getDrillPoliciesByTargets', scope: 'backups:read', load: getDrillPoliciesByTargets, id: targetId },
  { name: 'getJobsByIds', scope: 'jobs:read', load: getJobsByIds, id: jobId },
];

t.test('every batch load enforces its own scope: a context without it gets nothing', async (t) => {
  for (const { name, scope, load, id } of batches) {
    // Every other tenant scope, so no neighbouring scope can stand in for the one the rows need.
    const others = ctxWith(SCOPES.filter((s) => s !== scope && s !== ADMIN_SCOPE));
    await t.rejects(load(others, [id]), { code: 'PGS_MISSING_SCOPE' }, `${name} without ${scope}`);
    await t.rejects(load(others, []), { code: 'PGS_MISSING_SCOPE' }, `${name} without ${scope}, for no ids`);
    t.equal((await load(ctxWith([scope]), [id])).get(id) !== undefined, true, `${name} with ${scope} finds it`);
  }
});

const query = `query($job: ID!, $backup: ID!, $restore: ID!, $target: ID!, $withJob: Boolean!, $withBackup: Boolean!,
                     $withTarget: Boolean!) {
  job(id: $job) @include(if: $withJob) { id target { id } backup { id } restore { id } }
  backup(id: $backup) @include(if: $withBackup) { id target { id } job { id } }
  restore(id: $restore) @include(if: $withBackup) { id job { id } }
  target(id: $target) @include(if: $withTarget) { id drillPolicy { schedule } }
}`;
const ask = async (scopes: Scope[]) => {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(token('acme', scopes)),
    payload: {
      query,
      variables: {
        job: jobId,
        backup: backupId,
        restore: restoreId,
        target: targetId,
        withJob: scopes.includes('jobs:read'),
        withBackup: scopes.includes('backups:read'),
        withTarget: scopes.includes('targets:read'),
      },
    },
  });
  return res.json();
};

t.test('with every read scope, each relation resolves through its loader', async (t) => {
  const body = await ask(['jobs:read', 'backups:read', 'targets:read']);
  t.same(body.errors, undefined);
  t.same(body.data, {
    job: { id: jobId, target: { id: targetId }, backup: { id: backupId }, restore: { id: restoreId } },
    backup: { id: backupId, target: { id: targetId }, job: { id: jobId } },
    restore: { id: restoreId, job: { id: jobId } },
    target: { id: targetId, drillPolicy: { schedule: '0 3 * * *' } },
  });
});

t.test('a relation the scopes do not cover resolves to null, and the rest of the answer stands', async (t) => {
  const jobsOnly = await ask(['jobs:read']);
  t.same(jobsOnly.errors, undefined);
  t.same(jobsOnly.data, { job: { id: jobId, target: null, backup: null, restore: null } });

  const backupsOnly = await ask(['backups:read']);
  t.same(backupsOnly.errors, undefined);
  t.same(backupsOnly.data, {
    backup: { id: backupId, target: null, job: null },
    restore: { id: restoreId, job: null },
  });

  const targetsOnly = await ask(['targets:read']);
  t.same(targetsOnly.errors, undefined);
  t.same(targetsOnly.data, { target: { id: targetId, drillPolicy: null } });
});
