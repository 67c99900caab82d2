import t from 'tap';
import { backupSchedulingPass } from '../../src/domain/backup-policies/capability.js';
import { scheduleDueBackups } from '../../src/domain/backup-policies/scheduler.js';
import { Leader } from '../../src/schedules/leader.js';
import { bearer, buildTestApp } from '../helpers/app.js';

const { app, db, token, seedTenants, writeSecrets } = await buildTestApp(t);
await seedTenants('acme');
const acme = token('acme', ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read']);
const HOUR = 3_600_000;

async function createTarget(name: string): Promise<string> {
  writeSecrets({ [`acme/${name}`]: { username: 'app', password: 'not-used' } });
  const res = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: { name, secretRef: `file:acme/${name}`, host: 'localhost', database: 'app' },
  });
  return res.json().id as string;
}

async function setPolicy(target: string, payload: object) {
  const res = await app.inject({
    method: 'PUT',
    url: `/v1/targets/${target}/backup-policy`,
    headers: bearer(acme),
    payload,
  });
  t.equal(res.statusCode, 200, 'the policy is set');
  return res.json();
}

const backupsOf = (target: string) =>
  db.ownerQuery<{ id: string; status: string; policy_id: string | null; tick: Date | null; job_id: string }>(
    'SELECT id, status, policy_id, tick, job_id FROM backups WHERE target_id = $1 ORDER BY created_at',
    [target],
  );
const runsOf = (target: string) =>
  db.ownerQuery<{ tick: Date; outcome: string; reason: string | null; backup_id: string | null }>(
    'SELECT tick, outcome, reason, backup_id FROM backup_policy_runs WHERE target_id = $1 ORDER BY tick',
    [target],
  );

t.test('two leaders on one metadata store take exactly one backup for the due tick', async (t) => {
  const target = await createTarget('twoleaders');
  // A daily schedule whose tick was two minutes ago, with the last tick before that: exactly one is due.
  const due = new Date(Date.now() - 120_000);
  await setPolicy(target, { schedule: `${due.getUTCMinutes()} ${due.getUTCHours()} * * *` });
  await db.ownerQuery(`UPDATE backup_policies SET last_tick = now() - interval '4 minutes' WHERE target_id = $1`, [
    target,
  ]);
  const leader = () =>
    new Leader({
      settings: db.ownerSettings,
      intervalMs: 40,
      deps: { pool: db.appPool },
      passes: [backupSchedulingPass],
    });
  const a = leader();
  const b = leader();
  a.start();
  b.start();
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await backupsOf(target)).length === 0) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 400)); // several more passes of both
  t.equal([a.isLeader, b.isLeader].filter(Boolean).length, 1, 'exactly one leader');
  const backups = await backupsOf(target);
  t.equal(backups.length, 1, 'one backup for the one due tick');
  const [policy] = await db.ownerQuery<{ id: string }>('SELECT id FROM backup_policies WHERE target_id = $1', [target]);
  t.equal(backups[0]?.policy_id, policy?.id, 'marked with its policy');
  t.equal(backups[0]?.tick?.getUTCSeconds(), 0, '... and its tick, a minute boundary');
  const [job] = await db.ownerQuery<{ kind: string; backup: string; payload: { backupId: string } }>(
    `SELECT kind, subjects ->> 'backup' AS backup, payload FROM jobs WHERE id = $1`,
    [backups[0]?.job_id],
  );
  t.match(
    job,
    { kind: 'backup', backup: backups[0]?.id, payload: { backupId: backups[0]?.id } },
    'an ordinary backup job',
  );
  const runs = await runsOf(target);
  t.same(
    runs.map((r) => [r.tick.getTime(), r.outcome, r.backup_id]),
    [[backups[0]?.tick?.getTime(), 'enqueued', backups[0]?.id]],
  );
});

t.test('a tick while the previous scheduled backup still runs is skipped, with the reason', async (t) => {
  const target = await createTarget('slow');
  await setPolicy(target, { schedule: '0 * * * *' });
  const first = await scheduleDueBackups(db.appPool, new Date(Date.now() + HOUR));
  t.match(
    first.filter((d) => d.target === target),
    [{ outcome: 'enqueued' }],
  );
  // Nothing runs the job: the backup is still pending at the next tick, as a slow one would be running.
  const second = await scheduleDueBackups(db.appPool, new Date(Date.now() + 2 * HOUR));
  t.match(
    second.filter((d) => d.target === target),
    [{ outcome: 'skipped' }],
  );
  const backups = await backupsOf(target);
  t.equal(backups.length, 1, 'not doubled');
  const runs = await runsOf(target);
  t.same(
    runs.map((r) => r.outcome),
    ['enqueued', 'skipped'],
  );
  t.match(runs[1]?.reason, new RegExp(`scheduled backup ${backups[0]?.id} .* is still queued or running`));
  const policy = await app.inject({ method: 'GET', url: `/v1/targets/${target}/backup-policy`, headers: bearer(acme) });
  t.match(policy.json().lastRun, { outcome: 'skipped', reason: /still queued or running/, backupId: null });

  // It finished (failed, here): the next tick backs up again, and the last run shows the new one.
  await db.ownerQuery(`UPDATE backups SET status = 'failed', completed_at = now() WHERE id = $1`, [backups[0]?.id]);
  const third = await scheduleDueBackups(db.appPool, new Date(Date.now() + 3 * HOUR));
  t.match(
    third.filter((d) => d.target === target),
    [{ outcome: 'enqueued' }],
  );
  const after = await app.inject({ method: 'GET', url: `/v1/targets/${target}/backup-policy`, headers: bearer(acme) });
  t.match(after.json().lastRun, { outcome: 'pending', reason: null, backupId: String });
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /pgsteward_scheduled_backups_total\{outcome="skipped"\} [1-9]/);
  t.match(metrics.body, /pgsteward_scheduled_backups_total\{outcome="failed"\} [1-9]/);
});

t.test('ticks missed while nothing ran collapse into one backup', async (t) => {
  const target = await createTarget('missed');
  await setPolicy(target, { schedule: '0 * * * *' });
  const later = new Date(Date.now() + 6 * HOUR);
  const done = await scheduleDueBackups(db.appPool, later);
  t.equal(done.filter((d) => d.target === target).length, 1);
  const backups = await backupsOf(target);
  t.equal(backups.length, 1, 'one backup for five missed ticks');
  t.ok((backups[0]?.tick?.getTime() ?? 0) > later.getTime() - HOUR, 'for the latest tick');
  const again = await scheduleDueBackups(db.appPool, later);
  t.same(
    again.filter((d) => d.target === target),
    [],
    'the same clock again: nothing more',
  );
});

t.test('two passes acting on the same tick at once take one backup', async (t) => {
  const target = await createTarget('raced');
  await setPolicy(target, { schedule: '0 * * * *' });
  const now = new Date(Date.now() + HOUR);
  const [x, y] = await Promise.all([scheduleDueBackups(db.appPool, now), scheduleDueBackups(db.appPool, now)]);
  const outcomes = [...x, ...y].filter((d) => d.target === target).map((d) => d.outcome);
  t.equal(outcomes.filter((o) => o === 'enqueued').length, 1);
  t.ok(outcomes.every((o) => o === 'enqueued' || o === 'taken'));
  t.equal((await backupsOf(target)).length, 1);
});

t.test('a disabled policy takes no backups', async (t) => {
  const target = await createTarget('disabled');
  await setPolicy(target, { schedule: '0 * * * *', enabled: false });
  await scheduleDueBackups(db.appPool, new Date(Date.now() + 3 * HOUR));
  t.equal((await backupsOf(target)).length, 0);
});

t.test('verifyEvery starts a drill after every Nth scheduled backup that succeeds', async (t) => {
  const target = await createTarget('verified');
  await setPolicy(target, { schedule: '0 * * * *', verifyEvery: 2 });
  const succeeded: string[] = [];
  for (let i = 1; i <= 5; i++) {
    await scheduleDueBackups(db.appPool, new Date(Date.now() + i * HOUR));
    const newest = (await backupsOf(target)).at(-1);
    // The third fails; the others succeed, as a finished backup job leaves them.
    if (i === 3) {
      await db.ownerQuery(`UPDATE backups SET status = 'failed', completed_at = now() WHERE id = $1`, [newest?.id]);
    } else {
      await db.ownerQuery(
        `UPDATE backups SET status = 'available', artifact_key = 'k', size_bytes = 1, sha256 = repeat('a', 64),
                            completed_at = now() WHERE id = $1`,
        [newest?.id],
      );
      succeeded.push(newest?.id as string);
    }
  }
  // The last one is settled by the next pass.
  await scheduleDueBackups(db.appPool, new Date(Date.now() + 5 * HOUR + 60_000));
  const drills = await db.ownerQuery<{ backup: string; trigger: string }>(
    `SELECT subjects ->> 'backup' AS backup, payload ->> 'trigger' AS trigger FROM jobs
      WHERE kind = 'verify' AND target_id = $1 ORDER BY created_at`,
    [target],
  );
  t.same(
    drills.map((d) => d.backup),
    [succeeded[1], succeeded[3]],
    'the 2nd and 4th successes are drilled; the failure does not count',
  );
  t.ok(drills.every((d) => d.trigger === 'schedule'));
  const [policy] = await db.ownerQuery<{ succeeded: string }>(
    'SELECT succeeded FROM backup_policies WHERE target_id = $1',
    [target],
  );
  t.equal(Number(policy?.succeeded), 4, 'each success counted once');
});
