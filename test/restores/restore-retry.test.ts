// A restore job retried after its worker died mid-swap. The crashed state is built by hand (what the
// dead attempt would have left: its records, a leftover work database, the original renamed aside),
// then a retry of the job runs through the real worker.
import t from 'tap';
import { bearer } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { restoreFixture } from './restore-fixture.js';

const f = await restoreFixture(t);
const expected = await f.fingerprint(f.source.name);
const custom = await f.backup({ format: 'custom', includeGlobals: false });

/** A database restored from the backup and then changed; returns its name, data and the create restore's id. */
async function original(prefix: string) {
  const database = f.newName(prefix);
  const r = await f.restore(custom.id, { database });
  if (r.job?.status !== 'succeeded') throw new Error(JSON.stringify(r.job?.error));
  await f.onDb(database, (c) => c.query("INSERT INTO users (email) VALUES ('only-in-the-original@example.com')"));
  return { database, data: await f.fingerprint(database), restoreId: r.body.restoreId as string };
}

/** The records of a replace attempt that died, and its job queued again for the retry. */
async function crashedReplace(o: { restoreId: string; aside: string; work: string }) {
  const [row] = await f.db.ownerQuery<{ id: string }>(
    `INSERT INTO restores (tenant_id, backup_id, target_id, database, mode, options, status, previous_database,
                           work_database)
     SELECT tenant_id, backup_id, target_id, database, 'replace', options, 'running', $2, $3
       FROM restores WHERE id = $1 RETURNING id`,
    [o.restoreId, o.aside, o.work],
  );
  const id = row?.id as string;
  const [job] = await f.db.ownerQuery<{ id: string }>(
    `INSERT INTO jobs (tenant_id, kind, target_id, subjects, payload, attempts, max_attempts)
     VALUES ('acme', 'restore', $1, jsonb_build_object('restore', $2::text), jsonb_build_object('restoreId', $2::text),
             1, 2) RETURNING id`,
    [f.targetId, id],
  );
  await f.db.ownerQuery('UPDATE restores SET job_id = $1 WHERE id = $2', [job?.id, id]);
  return { restoreId: id, jobId: job?.id as string };
}

const getRestore = async (id: string) =>
  (await f.app.inject({ method: 'GET', url: `/v1/restores/${id}`, headers: bearer(f.acme) })).json();

t.test('died between the two renames: the retry puts the original back first, then replaces it', async (t) => {
  const o = await original('between');
  const aside = `${o.database}_pgs_old_crashed`;
  const work = `${o.database}_pgs_deadbeef`;
  await f.admin.query(`CREATE DATABASE "${work}"`); // the dead attempt's half-restored work database
  await f.admin.query(`ALTER DATABASE "${o.database}" RENAME TO "${aside}"`);
  t.same(await f.databases(o.database), [], 'the crash left nothing under the requested name');

  const crashed = await crashedReplace({ restoreId: o.restoreId, aside, work });
  const done = await waitForJob(f.app, f.acme, crashed.jobId, 90_000);
  t.equal(done.status, 'succeeded', done.error ? JSON.stringify(done.error) : 'the retried replace succeeds');
  const restore = await getRestore(crashed.restoreId);
  t.equal(restore.status, 'succeeded', 'and so does its record');
  t.not(restore.previousDatabase, aside, 'the crashed aside name was given back before the new swap');
  t.same(await f.fingerprint(o.database), expected, 'the backup is now under the name');
  t.same(await f.fingerprint(restore.previousDatabase), o.data, 'the original is kept, recorded, under the new aside');
  t.same(
    await f.databases(`${o.database}_pgs_%`),
    [restore.previousDatabase],
    'no work database and no unrecorded aside is left',
  );
});

t.test('died after the swap: the retry reports it and touches neither database', async (t) => {
  const o = await original('after');
  const aside = `${o.database}_pgs_old_crashed`;
  // The swap finished: the original aside, a restored database in place.
  await f.admin.query(`ALTER DATABASE "${o.database}" RENAME TO "${aside}"`);
  const again = await f.restore(custom.id, { database: o.database });
  t.equal(again.job?.status, 'succeeded', 'the swapped-in database is in place');

  const crashed = await crashedReplace({ restoreId: o.restoreId, aside, work: `${o.database}_pgs_cafef00d` });
  const done = await waitForJob(f.app, f.acme, crashed.jobId, 90_000);
  t.equal(done.status, 'failed', 'the retry fails');
  t.equal(done.error?.code, 'PGS_RESTORE_INTERRUPTED', 'saying the earlier attempt was interrupted');
  t.match(done.error?.message, aside, 'it names where the original is');
  t.same(await f.fingerprint(o.database), expected, 'the restored database stays in place');
  t.same(await f.fingerprint(aside), o.data, 'the original stays aside, untouched');
  const restore = await getRestore(crashed.restoreId);
  t.equal(restore.status, 'failed', 'the restore is failed');
  t.equal(restore.previousDatabase, aside, 'and the record still says where the original is');
});
