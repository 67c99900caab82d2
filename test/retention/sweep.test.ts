import t from 'tap';
import { retentionSweepPass } from '../../src/domain/backup-policies/capability.js';
import { backupPrefix } from '../../src/domain/backups/artifact-prefix.js';
import type { ArtifactStorage } from '../../src/domain/backups/storage/artifact-storage.js';
import { createArtifactStorage } from '../../src/domain/backups/storage/create-storage.js';
import { RETENTION_ACTOR } from '../../src/domain/retention/sweep.js';
import type { Services } from '../../src/domain/services.js';
import { seedBackup } from '../backup-policies/seed.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { writeArtifact } from '../helpers/artifacts.js';
import { S3RVER_CREDENTIALS, S3RVER_REGION, startTestS3Server } from '../helpers/s3-server.js';

const { app, db, services, token, seedTenants, writeSecrets } = await buildTestApp(t);
await seedTenants('acme');
const acme = token('acme', ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read']);
const DAY = 86_400_000;
const silent = { info: () => {}, warn: () => {}, error: () => {} };

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
}

/** The dump and the globals file of a backup, as a backup job stores them. */
async function storeArtifacts(storage: ArtifactStorage, target: string, id: string, failed = false) {
  const prefix = backupPrefix('acme', target, id);
  await writeArtifact(storage, `${prefix}dump.custom`, Buffer.from(`dump of ${id}`));
  if (!failed) await writeArtifact(storage, `${prefix}globals.sql`, Buffer.from(`globals of ${id}`));
}

const sweep = (now: Date, s: Services = services) =>
  retentionSweepPass.run({ pool: db.appPool, services: s }, now, silent) as Promise<
    { backupId: string; rule: string; outcome: string }[]
  >;

const rowsOf = (ids: string[]) =>
  db.ownerQuery<{ id: string; status: string; expired_rule: string | null; expired_at: Date | null }>(
    'SELECT id, status, expired_rule, expired_at FROM backups WHERE id = ANY($1::uuid[])',
    [ids],
  );

t.test('the sweep keeps exactly the GFS set, never a failed backup, never the last verified', async (t) => {
  const target = await createTarget('gfs');
  await setPolicy(target, {
    schedule: '0 2 * * *',
    timezone: 'Europe/Berlin',
    retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 3 },
  });
  // The test clock: Tuesday 31 March 2026, 10:00 UTC. A nightly backup at 01:00 UTC (02:00 or 03:00 in
  // Berlin, the same day there) for the 121 days from 1 December.
  const now = new Date(Date.UTC(2026, 2, 31, 10));
  const byDay = new Map<string, string>();
  for (let at = Date.UTC(2025, 11, 1, 1); at <= now.getTime(); at += DAY) {
    const day = new Date(at).toISOString().slice(0, 10);
    byDay.set(
      day,
      await seedBackup(db, target, { at: new Date(at), verified: day === '2026-01-05' || day === '2025-12-10' }),
    );
  }
  // Failed backups, newer than every available one of their day: they never fill a bucket.
  const failed = [
    await seedBackup(db, target, { at: new Date(Date.UTC(2026, 2, 31, 5)), status: 'failed' }),
    await seedBackup(db, target, { at: new Date(Date.UTC(2026, 2, 22, 5)), status: 'failed' }),
  ];
  const all = [...byDay.values()];
  for (const id of all) await storeArtifacts(services.storage, target, id);
  for (const id of failed) await storeArtifacts(services.storage, target, id, true);
  // A pinned one, and one a drill is reading (its verify job is queued).
  const pinned = byDay.get('2025-12-01') as string;
  const read = byDay.get('2025-12-02') as string;
  await app.inject({ method: 'PATCH', url: `/v1/backups/${pinned}`, headers: bearer(acme), payload: { pinned: true } });
  const drill = await app.inject({ method: 'POST', url: `/v1/backups/${read}/verify`, headers: bearer(acme) });
  t.equal(drill.statusCode, 202);

  const plan = await app.inject({
    method: 'GET',
    url: `/v1/targets/${target}/backup-policy/retention-plan`,
    headers: bearer(acme),
  });
  const planned = (plan.json().items as { backupId: string; action: string }[]).filter((i) => i.action === 'delete');

  const results = await sweep(now);
  const expectedDays = [
    // keepDaily 7
    '2026-03-31',
    '2026-03-30',
    '2026-03-29',
    '2026-03-28',
    '2026-03-27',
    '2026-03-26',
    '2026-03-25',
    // keepWeekly 4 (ISO weeks; 31 March is in week 14): the Sundays of weeks 13, 12 and 11
    '2026-03-22',
    '2026-03-15',
    // keepMonthly 3: the last day of February and of January
    '2026-02-28',
    '2026-01-31',
    // the newest verified backup (5 January; the one of 10 December is older), pinned, in use
    '2026-01-05',
    '2025-12-01',
    '2025-12-02',
  ];
  const expectedKept = new Set(expectedDays.map((d) => byDay.get(d)));
  const rows = await rowsOf([...all, ...failed]);
  const kept = rows.filter((r) => r.status === 'available').map((r) => r.id);
  t.same(new Set(kept), expectedKept, 'exactly the GFS set and the protected ones are kept');
  const expired = rows.filter((r) => r.status === 'expired');
  t.equal(expired.length, all.length - expectedKept.size, 'every other available backup expired');
  t.ok(
    expired.every((r) => r.expired_rule === 'unmatched' && r.expired_at !== null),
    'with its rule and time',
  );
  t.same(
    new Set(planned.map((p) => p.backupId)),
    new Set(expired.map((r) => r.id)),
    'the dry run announced exactly these deletions',
  );
  t.equal(byDay.get('2025-12-10') && rows.find((r) => r.id === byDay.get('2025-12-10'))?.status, 'expired');

  // Failed backups keep their status, and their leftovers are gone too.
  const failedRows = rows.filter((r) => failed.includes(r.id));
  t.ok(failedRows.every((r) => r.status === 'failed' && r.expired_rule === 'failed' && r.expired_at !== null));

  // The artifacts are really gone from the file storage: the dump and the globals file; the kept remain.
  for (const r of rows) {
    const objects = await services.storage.list(backupPrefix('acme', target, r.id));
    if (r.status === 'available') t.equal(objects.length, 2, `kept ${r.id} still has its objects`);
    else if (objects.length > 0) t.fail(`${r.id} (${r.status}) still has ${objects.join(', ')}`);
  }

  const audit = await db.ownerQuery<{ action: string; resource: string; actor: string }>(
    `SELECT action, resource, actor FROM audit_events WHERE actor = $1`,
    [RETENTION_ACTOR],
  );
  t.equal(audit.filter((a) => a.action === 'expireBackup:unmatched').length, expired.length, 'each expiry audited');
  t.equal(audit.filter((a) => a.action === 'sweepFailedBackup').length, failed.length);
  t.equal(results.filter((r) => r.outcome === 'expired').length, expired.length);
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, new RegExp(`pgsteward_backups_expired_total\\{rule="unmatched"\\} ${expired.length}`));

  // Idempotent: the same clock again changes nothing.
  t.same(await sweep(now), []);
  const backupView = await app.inject({ method: 'GET', url: `/v1/backups/${expired[0]?.id}`, headers: bearer(acme) });
  t.match(backupView.json(), { status: 'expired', expiredRule: 'unmatched', expiredAt: String });
});

t.test('a storage failure is retried next pass; an interrupted sweep finishes its decision', async (t) => {
  const target = await createTarget('flaky');
  await setPolicy(target, { schedule: '@daily', retention: { keepLast: 1 } });
  const now = new Date();
  const ids: string[] = [];
  for (let i = 3; i >= 0; i--) ids.push(await seedBackup(db, target, { at: new Date(now.getTime() - i * DAY) }));
  for (const id of ids) await storeArtifacts(services.storage, target, id);
  const [oldest, second, third, newest] = ids as [string, string, string, string];
  // A crash after the claim: the rule is recorded, the objects are still there.
  await db.ownerQuery(`UPDATE backups SET expired_rule = 'unmatched' WHERE id = $1`, [third]);
  // Deleting the oldest's objects fails once.
  let failures = 0;
  const flaky: ArtifactStorage = Object.create(services.storage);
  flaky.delete = async (key) => {
    if (key.includes(oldest) && failures++ === 0) throw new Error('storage is unavailable');
    return services.storage.delete(key);
  };
  const first = await sweep(now, { ...services, storage: flaky });
  t.same(
    first.map((r) => [r.backupId, r.outcome]).sort(),
    [
      [oldest, 'failed'],
      [second, 'expired'],
      [third, 'expired'],
    ].sort(),
  );
  let rows = await rowsOf(ids);
  t.match(
    rows.find((r) => r.id === oldest),
    { status: 'available', expired_rule: 'unmatched' },
    'claimed, not done',
  );
  const retried = await sweep(now, { ...services, storage: flaky });
  t.same(
    retried.map((r) => [r.backupId, r.outcome]),
    [[oldest, 'expired']],
  );
  rows = await rowsOf(ids);
  t.same(Object.fromEntries(rows.map((r) => [r.id, r.status])), {
    [oldest]: 'expired',
    [second]: 'expired',
    [third]: 'expired',
    [newest]: 'available',
  });
  t.same(await services.storage.list(backupPrefix('acme', target, oldest)), []);
});

t.test('manual backups answer only to maxAgeDays; a disabled policy deletes nothing', async (t) => {
  const target = await createTarget('manual');
  await setPolicy(target, { schedule: '@daily', retention: { keepLast: 1, maxAgeDays: 30 }, enabled: false });
  const now = new Date();
  const young = await seedBackup(db, target, { ageMs: 5 * DAY, scheduled: false });
  const old = await seedBackup(db, target, { ageMs: 40 * DAY, scheduled: false });
  const newest = await seedBackup(db, target, { ageMs: DAY });
  t.same(await sweep(now), [], 'disabled: nothing happens');
  await setPolicy(target, { schedule: '@daily', retention: { keepLast: 1, maxAgeDays: 30 } });
  const done = await sweep(now);
  t.same(
    done.map((r) => [r.backupId, r.rule, r.outcome]),
    [[old, 'maxAgeDays', 'expired']],
  );
  const rows = await rowsOf([young, old, newest]);
  t.same(Object.fromEntries(rows.map((r) => [r.id, r.status])), {
    [young]: 'available',
    [old]: 'expired',
    [newest]: 'available',
  });
});

t.test('artifacts are deleted from S3 (s3rver) as well', async (t) => {
  const server = await startTestS3Server();
  t.teardown(() => server.close());
  const s3 = createArtifactStorage({
    url: `s3://${server.bucket}/retention`,
    s3: {
      endpoint: server.endpoint,
      region: S3RVER_REGION,
      forcePathStyle: true,
      checksumMode: 'when_required',
      credentials: S3RVER_CREDENTIALS,
    },
  });
  const target = await createTarget('s3');
  await setPolicy(target, { schedule: '@daily', retention: { keepLast: 1 } });
  const now = new Date();
  const older = await seedBackup(db, target, { ageMs: 2 * DAY });
  const newest = await seedBackup(db, target, { ageMs: DAY });
  for (const id of [older, newest]) await storeArtifacts(s3, target, id);
  t.equal((await s3.list(backupPrefix('acme', target, older))).length, 2);
  const done = await sweep(now, { ...services, storage: s3 });
  t.same(
    done.map((r) => [r.backupId, r.outcome]),
    [[older, 'expired']],
  );
  t.same(await s3.list(backupPrefix('acme', target, older)), [], 'gone from the bucket');
  t.equal((await s3.list(backupPrefix('acme', target, newest))).length, 2, 'the kept one remains');
});
