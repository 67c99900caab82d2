// Health reports and maintenance runs whose job was cancelled while queued, or failed by the reaper, end
// settled (the leader's abandoned-work passes) instead of pending for ever. Backups: test/backups/abandoned.
import t from 'tap';
import { settleAbandonedReports } from '../../src/domain/health/abandoned.js';
import { settleAbandonedRuns } from '../../src/domain/maintenance/abandoned.js';
import { settleAbandonedRestores } from '../../src/domain/restores/abandoned.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { registerTarget } from '../helpers/targets.js';

const test = await buildTestApp(t);
const { app, db } = test;
await test.seedTenants('acme');
const source = await createSourceDatabase(t, db.cluster, { rows: 10 });
const targetId = (await registerTarget(test, test.token('acme', ['targets:write']), source)).json().id as string;
const acme = test.token('acme', ['maintenance:write', 'health:read', 'health:write', 'jobs:read', 'jobs:write']);
const cancel = (jobId: string) =>
  app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: bearer(acme) });
const failAsReaped = (jobId: string) =>
  db.ownerQuery(
    `UPDATE jobs SET status = 'failed', finished_at = now(),
                     error = '{"code": "PGS_LEASE_EXPIRED", "message": "The worker stopped responding."}'
      WHERE id = $1`,
    [jobId],
  );

t.test('a health report cancelled while queued ends error PGS_CANCELLED; a reaped one the job error', async (t) => {
  const start = () =>
    app.inject({ method: 'POST', url: `/v1/targets/${targetId}/health-reports`, headers: bearer(acme) });
  const reportOf = async (jobId: string) =>
    (
      await db.ownerQuery<{ id: string; status: string; error: { code: string } | null }>(
        'SELECT id, status, error FROM health_reports WHERE job_id = $1',
        [jobId],
      )
    )[0];
  const cancelled = (await start()).json().id as string;
  t.equal((await cancel(cancelled)).json().status, 'cancelled');
  const reaped = (await start()).json().id as string;
  await failAsReaped(reaped);
  const waiting = (await start()).json().id as string;
  t.equal((await reportOf(cancelled))?.status, 'pending');

  const settled = await settleAbandonedReports({ pool: db.appPool });
  t.same(settled.sort(), [(await reportOf(cancelled))?.id, (await reportOf(reaped))?.id].sort());
  t.match(await reportOf(cancelled), { status: 'error', error: { code: 'PGS_CANCELLED' } });
  t.match(await reportOf(reaped), { status: 'error', error: { code: 'PGS_LEASE_EXPIRED' } });
  t.equal((await reportOf(waiting))?.status, 'pending', 'a report whose job is still queued is left alone');
  const report = await app.inject({
    method: 'GET',
    url: `/v1/health-reports/${(await reportOf(cancelled))?.id}`,
    headers: bearer(acme),
  });
  t.equal(report.json().status, 'error');
});

t.test('a maintenance run cancelled while queued ends cancelled; a reaped one failed', async (t) => {
  const start = async () =>
    (
      await app.inject({
        method: 'POST',
        url: `/v1/targets/${targetId}/maintenance`,
        headers: bearer(acme),
        payload: { action: 'analyze' },
      })
    ).json().id as string;
  const run = async (id: string) =>
    (await app.inject({ method: 'GET', url: `/v1/maintenance/${id}`, headers: bearer(acme) })).json();
  const cancelled = await start();
  t.equal((await cancel(cancelled)).json().status, 'cancelled');
  const reaped = await start();
  await failAsReaped(reaped);
  t.equal((await run(cancelled)).status, 'pending');

  t.same((await settleAbandonedRuns({ pool: db.appPool })).sort(), [cancelled, reaped].sort());
  t.match(await run(cancelled), { status: 'cancelled', error: { code: 'PGS_CANCELLED' } });
  t.match(await run(reaped), { status: 'failed', error: { code: 'PGS_LEASE_EXPIRED' } });
  t.same(await settleAbandonedRuns({ pool: db.appPool }), [], 'settled once');
});

t.test('a restore whose job ended unsettled ends failed, keeping the name of its work database', async (t) => {
  // Rows as a backup, a queued restore and a dead worker's restore leave them (the restore path itself is
  // covered in test/restores; here only what the leader's pass does with the records).
  const [backup] = await db.ownerQuery<{ id: string }>(
    `INSERT INTO backups (tenant_id, target_id, status, format, options) VALUES ('acme', $1, 'failed', 'custom', '{}')
     RETURNING id`,
    [targetId],
  );
  const restoreWith = async (jobStatus: string, restoreStatus: string, error: object | null) => {
    const [job] = await db.ownerQuery<{ id: string }>(
      `INSERT INTO jobs (tenant_id, kind, status, error, finished_at) VALUES ('acme', 'restore', $1, $2, now()) RETURNING id`,
      [jobStatus, error === null ? null : JSON.stringify(error)],
    );
    const [restore] = await db.ownerQuery<{ id: string }>(
      `INSERT INTO restores (tenant_id, backup_id, target_id, job_id, database, mode, options, status, work_database)
       VALUES ('acme', $1, $2, $3, 'restored', 'create', '{}', $4, 'restored') RETURNING id`,
      [backup?.id, targetId, job?.id, restoreStatus],
    );
    return restore?.id as string;
  };
  const cancelled = await restoreWith('cancelled', 'pending', null);
  const reaped = await restoreWith('failed', 'running', { code: 'PGS_LEASE_EXPIRED', message: 'gone' });
  const finished = await restoreWith('succeeded', 'succeeded', null);
  const row = async (id: string) =>
    (await db.ownerQuery('SELECT status, error, work_database FROM restores WHERE id = $1', [id]))[0];

  t.same((await settleAbandonedRestores({ pool: db.appPool })).sort(), [cancelled, reaped].sort());
  t.match(await row(cancelled), { status: 'failed', error: { code: 'PGS_CANCELLED' } });
  t.match(await row(reaped), { status: 'failed', error: { code: 'PGS_LEASE_EXPIRED' }, work_database: 'restored' });
  t.match(await row(finished), { status: 'succeeded' });
});
