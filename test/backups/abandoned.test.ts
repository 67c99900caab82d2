// A backup whose job ends without its task settling it (cancelled while queued, or failed by the reaper
// after its last worker died) must not stay pending or running for ever: the leader's pass fails it.
import { finished } from 'node:stream/promises';
import t from 'tap';
import { settleAbandonedBackups } from '../../src/domain/backups/abandoned.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import type { JobView } from '../helpers/jobs.js';
import { acmeTarget } from '../helpers/targets.js';

/** A tenant's backup of its target, queued; no worker runs in these tests, so it stays queued. */
async function acmeBackups(t: Parameters<typeof buildTestApp>[0]) {
  const test = await buildTestApp(t);
  const { token, targetId } = await acmeTarget(t, test, { rows: 10 });
  const start = async (format: string) =>
    (
      await test.app.inject({
        method: 'POST',
        url: `/v1/targets/${targetId}/backups`,
        headers: bearer(token),
        payload: { format },
      })
    ).json() as JobView;
  const get = async (id: string | null) =>
    (await test.app.inject({ method: 'GET', url: `/v1/backups/${id}`, headers: bearer(token) })).json();
  return { test, token, targetId, start, get };
}

t.test('a backup whose job was cancelled while queued ends failed, PGS_CANCELLED, and can be deleted', async (t) => {
  const { test, token, start, get } = await acmeBackups(t);
  const job = await start('custom');
  const cancel = await test.app.inject({
    method: 'POST',
    url: `/v1/jobs/${job.id}/cancel`,
    headers: bearer(test.token('acme', ['jobs:write'])),
  });
  t.equal(cancel.json().status, 'cancelled', 'no worker runs here: the job was still queued');
  t.equal((await get(job.backupId)).status, 'pending', 'until the pass runs, the backup is pending');

  t.same(await settleAbandonedBackups({ pool: test.db.appPool, services: test.services }), [job.backupId]);
  const after = await get(job.backupId);
  t.equal(after.status, 'failed');
  t.equal(after.error.code, 'PGS_CANCELLED');
  t.same(await settleAbandonedBackups({ pool: test.db.appPool, services: test.services }), [], 'settled once');

  const deleted = await test.app.inject({
    method: 'DELETE',
    url: `/v1/backups/${job.backupId}`,
    headers: bearer(token),
  });
  t.ok(deleted.statusCode < 300, `a failed backup can be deleted (${deleted.statusCode})`);
});

t.test(
  "a running backup whose job the reaper failed ends failed with the job's error, its objects removed",
  async (t) => {
    const { test, targetId, start, get } = await acmeBackups(t);
    const job = await start('custom');
    // What a dead worker's last attempt leaves: a running backup with a partial object, and a failed job.
    const prefix = `acme/${targetId}/${job.backupId}/`;
    const writer = await test.services.storage.createWriter(`${prefix}globals.sql`);
    writer.stream.end('-- partial');
    await finished(writer.stream);
    await writer.commit();
    t.same(await test.services.storage.list(prefix), [`${prefix}globals.sql`]);
    await test.db.ownerQuery("UPDATE backups SET status = 'running' WHERE id = $1", [job.backupId]);
    await test.db.ownerQuery(
      `UPDATE jobs SET status = 'failed', finished_at = now(),
                     error = '{"code": "PGS_LEASE_EXPIRED", "message": "The worker stopped responding."}'
      WHERE id = $1`,
      [job.id],
    );
    // An unrelated pending backup whose job is still queued is left alone.
    const other = await start('plain');

    t.same(await settleAbandonedBackups({ pool: test.db.appPool, services: test.services }), [job.backupId]);
    t.match(await get(job.backupId), { status: 'failed', error: { code: 'PGS_LEASE_EXPIRED' } });
    t.same(await test.services.storage.list(prefix), [], 'nothing is left under its id');
    t.equal((await get(other.backupId)).status, 'pending');
  },
);
