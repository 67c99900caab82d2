import t from 'tap';
import { scheduleDueBackups } from '../../src/domain/backup-policies/scheduler.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { sha256Of } from '../helpers/artifacts.js';
import { waitForJob } from '../helpers/jobs.js';
import { acmeTarget } from '../helpers/targets.js';

const test = await buildTestApp(t, {}, { worker: true });
const { app, services } = test;
const { token, targetId } = await acmeTarget(t, test, { rows: 50 });

t.test('a scheduled backup is an ordinary backup job: proofs, progress, and its policy and tick', async (t) => {
  const set = await app.inject({
    method: 'PUT',
    url: `/v1/targets/${targetId}/backup-policy`,
    headers: bearer(token),
    payload: { schedule: '0 * * * *', options: { format: 'custom', includeGlobals: false } },
  });
  t.equal(set.statusCode, 200);
  const [enqueued] = await scheduleDueBackups(test.db.appPool, new Date(Date.now() + 3_600_000));
  t.match(enqueued, { target: targetId, outcome: 'enqueued', backupId: String });
  const backup = await app.inject({ method: 'GET', url: `/v1/backups/${enqueued?.backupId}`, headers: bearer(token) });
  const job = await waitForJob(app, token, backup.json().jobId);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.match(job.progress, { phase: 'done' });
  const done = await app.inject({ method: 'GET', url: `/v1/backups/${enqueued?.backupId}`, headers: bearer(token) });
  const b = done.json();
  t.match(b, {
    status: 'available',
    options: { format: 'custom', includeGlobals: false },
    tick: enqueued?.tick,
    policyId: String,
    pinned: false,
    expiredRule: null,
  });
  t.ok(
    b.tables.some((table: { rows: number | null }) => table.rows === 50),
    'row counts recorded',
  );
  const key = `acme/${targetId}/${b.id}/dump.custom`;
  t.same(
    await sha256Of(services.storage, key),
    { sha256: b.sha256, size: b.sizeBytes },
    'the stored artifact is proven',
  );
  const policy = await app.inject({
    method: 'GET',
    url: `/v1/targets/${targetId}/backup-policy`,
    headers: bearer(token),
  });
  t.match(policy.json().lastRun, { tick: enqueued?.tick, outcome: 'succeeded', backupId: b.id });
});
