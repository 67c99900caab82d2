import t from 'tap';
import { drillSchedulingPass } from '../../src/domain/drills/capability.js';
import { scheduleDueDrills } from '../../src/domain/drills/scheduler.js';
import { Leader } from '../../src/schedules/leader.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { postGraphql } from '../helpers/graphql.js';

const { app, db, token, seedTenants, writeSecrets } = await buildTestApp(t);
await seedTenants('acme', 'globex');
const acme = token('acme', ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read']);
const acmeReadOnly = token('acme', ['targets:read', 'backups:read']);
const globex = token('globex', ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read']);

async function createTarget(name: string, who = acme): Promise<string> {
  const tenant = who === globex ? 'globex' : 'acme';
  writeSecrets({ [`${tenant}/${name}`]: { username: 'app', password: 'not-used' } });
  const res = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(who),
    payload: { name, secretRef: `file:${tenant}/${name}`, host: 'localhost', database: 'app' },
  });
  return res.json().id as string;
}

const targetId = await createTarget('main');
const policyUrl = (id = targetId) => `/v1/targets/${id}/drill-policy`;

/** An available backup record, as a finished backup job leaves it (no artifact needed to schedule). */
async function seedAvailableBackup(target: string, tenant = 'acme'): Promise<string> {
  const [row] = await db.ownerQuery<{ id: string }>(
    `INSERT INTO backups (tenant_id, target_id, status, format, options, artifact_key, size_bytes, sha256, completed_at)
     VALUES ($1, $2, 'available', 'custom', '{}', 'k', 1, repeat('a', 64), now()) RETURNING id`,
    [tenant, target],
  );
  return row?.id as string;
}

const gql = (who: string, query: string, variables: Record<string, unknown> = {}) =>
  postGraphql(app, who, query, variables);

t.test('a drill policy is set, read, replaced and deleted over REST', async (t) => {
  const missing = await app.inject({ method: 'GET', url: policyUrl(), headers: bearer(acme) });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'PGS_DRILL_POLICY_NOT_FOUND');

  const set = await app.inject({
    method: 'PUT',
    url: policyUrl(),
    headers: bearer(acme),
    payload: { schedule: '0 3 * * 0', timezone: 'Europe/Berlin' },
  });
  t.equal(set.statusCode, 200);
  t.match(set.json(), { targetId, schedule: '0 3 * * 0', timezone: 'Europe/Berlin' });
  const next = new Date(set.json().nextTick);
  t.ok(next > new Date(), 'the next tick is in the future');
  // 03:00 in Berlin is 01:00 or 02:00 UTC, on a Sunday.
  t.equal(next.getUTCDay(), 0);
  t.ok([1, 2].includes(next.getUTCHours()));

  const replaced = await app.inject({
    method: 'PUT',
    url: policyUrl(),
    headers: bearer(acme),
    payload: { schedule: '@daily' },
  });
  t.match(replaced.json(), { schedule: '@daily', timezone: 'UTC' });
  const read = await app.inject({ method: 'GET', url: policyUrl(), headers: bearer(acmeReadOnly) });
  t.same(read.json(), replaced.json());

  const denied = await app.inject({ method: 'DELETE', url: policyUrl(), headers: bearer(acmeReadOnly) });
  t.equal(denied.statusCode, 403);
  const deleted = await app.inject({ method: 'DELETE', url: policyUrl(), headers: bearer(acme) });
  t.equal(deleted.statusCode, 204);
  const again = await app.inject({ method: 'DELETE', url: policyUrl(), headers: bearer(acme) });
  t.equal(again.statusCode, 404);
  t.equal(again.json().code, 'PGS_DRILL_POLICY_NOT_FOUND');
});

t.test('a bad cron expression or time zone answers 400 with its code', async (t) => {
  const cases: [object, string][] = [
    [{ schedule: 'every day' }, 'PGS_INVALID_SCHEDULE'],
    [{ schedule: '61 * * * *' }, 'PGS_INVALID_SCHEDULE'],
    [{ schedule: '* * * * * *' }, 'PGS_INVALID_SCHEDULE'], // seconds are refused
    [{ schedule: '0 3 * * *', timezone: 'Mars/Olympus_Mons' }, 'PGS_INVALID_TIMEZONE'],
    [{ schedule: '0 3 * * *', timezone: 'not a zone' }, 'PGS_INVALID_TIMEZONE'],
  ];
  for (const [payload, code] of cases) {
    const res = await app.inject({ method: 'PUT', url: policyUrl(), headers: bearer(acme), payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.equal(res.json().code, code, JSON.stringify(payload));
  }
  const noSchedule = await app.inject({ method: 'PUT', url: policyUrl(), headers: bearer(acme), payload: {} });
  t.equal(noSchedule.statusCode, 400);
  const gone = await app.inject({ method: 'GET', url: policyUrl(), headers: bearer(acme) });
  t.equal(gone.statusCode, 404, 'nothing was stored');
});

t.test('another tenant gets 404 for the policy in REST and GraphQL', async (t) => {
  await app.inject({ method: 'PUT', url: policyUrl(), headers: bearer(acme), payload: { schedule: '@hourly' } });
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const res = await app.inject({
      method,
      url: policyUrl(),
      headers: bearer(globex),
      ...(method === 'PUT' ? { payload: { schedule: '@daily' } } : {}),
    });
    t.equal(res.statusCode, 404, method);
    t.equal(res.json().code, 'PGS_TARGET_NOT_FOUND', method);
  }
  const read = await gql(globex, 'query($id: ID!) { drillPolicy(targetId: $id) { schedule } }', { id: targetId });
  t.equal(read.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const write = await gql(
    globex,
    'mutation($id: ID!) { setDrillPolicy(targetId: $id, schedule: "@daily") { schedule } }',
    { id: targetId },
  );
  t.equal(write.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const del = await gql(globex, 'mutation($id: ID!) { deleteDrillPolicy(targetId: $id) }', { id: targetId });
  t.equal(del.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const still = await app.inject({ method: 'GET', url: policyUrl(), headers: bearer(acme) });
  t.equal(still.json().schedule, '@hourly', "acme's policy is untouched");
});

t.test('GraphQL sets, reads and deletes a policy with the same rules', async (t) => {
  const other = await createTarget('graph');
  const none = await gql(acme, 'query($id: ID!) { drillPolicy(targetId: $id) { schedule } }', { id: other });
  t.same(none.data, { drillPolicy: null });
  const bad = await gql(
    acme,
    'mutation($id: ID!) { setDrillPolicy(targetId: $id, schedule: "0 3 * * *", timezone: "Nowhere/Land") { schedule } }',
    { id: other },
  );
  t.equal(bad.errors?.[0]?.extensions.code, 'PGS_INVALID_TIMEZONE');
  const set = await gql(
    acme,
    'mutation($id: ID!) { setDrillPolicy(targetId: $id, schedule: "30 2 * * *", timezone: "Asia/Tokyo") { targetId schedule timezone nextTick } }',
    { id: other },
  );
  t.match(set.data, { setDrillPolicy: { targetId: other, schedule: '30 2 * * *', timezone: 'Asia/Tokyo' } });
  const viaTarget = await gql(
    acme,
    'query { targets { items { name drillPolicy { schedule } lastVerifiedBackup { id } } } }',
  );
  const items =
    (viaTarget.data?.targets as { items: { name: string; drillPolicy: unknown }[] } | undefined)?.items ?? [];
  t.same(items.find((i) => i.name === 'graph')?.drillPolicy, { schedule: '30 2 * * *' });
  t.ok(items.length > 1);
  const unscoped = await gql(
    token('acme', ['targets:read']),
    'query { targets { items { drillPolicy { schedule } } } }',
  );
  t.ok(
    ((unscoped.data?.targets as { items: { drillPolicy: unknown }[] } | undefined)?.items ?? []).every(
      (i) => i.drillPolicy === null,
    ),
    'without backups:read the relation is null',
  );
  const del = await gql(acme, 'mutation($id: ID!) { deleteDrillPolicy(targetId: $id) }', { id: other });
  t.same(del.data, { deleteDrillPolicy: true });
});

t.test('the scheduler enqueues exactly one drill per due tick, with two schedulers at once', async (t) => {
  const target = await createTarget('scheduled');
  const backupId = await seedAvailableBackup(target);
  const empty = await createTarget('nobackups');
  // A daily schedule whose tick was two minutes ago, and a last tick before that: exactly one tick is
  // due, and the next is a day away, however slowly this test runs.
  const due = new Date(Date.now() - 120_000);
  const schedule = `${due.getUTCMinutes()} ${due.getUTCHours()} * * *`;
  for (const id of [target, empty]) {
    await app.inject({ method: 'PUT', url: policyUrl(id), headers: bearer(acme), payload: { schedule } });
  }
  await db.ownerQuery(
    `UPDATE drill_policies SET last_tick = now() - interval '4 minutes' WHERE target_id = ANY($1::uuid[])`,
    [[target, empty]],
  );
  const settings = db.ownerSettings;
  const scheduler = () =>
    new Leader({ settings, intervalMs: 40, deps: { pool: db.appPool }, passes: [drillSchedulingPass] });
  const a = scheduler();
  const b = scheduler();
  a.start();
  b.start();
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const deadline = Date.now() + 10_000;
  let jobs: { id: string; backup_id: string; payload: { tick: string; trigger: string } }[] = [];
  while (Date.now() < deadline) {
    jobs = await db.ownerQuery(
      `SELECT id, subjects ->> 'backup' AS backup_id, payload FROM jobs WHERE kind = 'verify' AND target_id = $1`,
      [target],
    );
    if (jobs.length > 0 && (a.isLeader || b.isLeader)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 400)); // several more passes of both schedulers
  t.equal([a.isLeader, b.isLeader].filter(Boolean).length, 1, 'exactly one leader');
  jobs = await db.ownerQuery(
    `SELECT id, subjects ->> 'backup' AS backup_id, payload FROM jobs WHERE kind = 'verify' AND target_id = $1`,
    [target],
  );
  const ticks = await db.ownerQuery<{ target_id: string; tick: Date; job_id: string | null }>(
    'SELECT target_id, tick, job_id FROM drill_ticks WHERE target_id = ANY($1::uuid[]) ORDER BY target_id',
    [[target, empty]],
  );
  t.equal(jobs.length, 1, 'one drill for the one due tick');
  t.equal(jobs[0]?.backup_id, backupId, 'of the newest available backup');
  t.equal(jobs[0]?.payload.trigger, 'schedule');
  const own = ticks.filter((r) => r.target_id === target);
  t.equal(own.length, 1);
  t.equal(own[0]?.job_id, jobs[0]?.id, 'the tick records its job');
  t.equal(new Date(jobs[0]?.payload.tick ?? '').getTime(), own[0]?.tick.getTime());
  t.equal(own[0]?.tick.getUTCSeconds(), 0, 'a minute boundary');
  const skipped = ticks.filter((r) => r.target_id === empty);
  t.equal(skipped.length, 1, 'a target without a backup still has its tick recorded');
  t.equal(skipped[0]?.job_id, null, '... without a job');

  // The leader goes away: the other takes over.
  const leader = a.isLeader ? a : b;
  const follower = leader === a ? b : a;
  await leader.stop();
  const handover = Date.now() + 5_000;
  while (!follower.isLeader && Date.now() < handover) await new Promise((r) => setTimeout(r, 20));
  t.ok(follower.isLeader, 'the other scheduler became the leader');
});

t.test('two passes acting on the same tick at once enqueue one drill (drill_ticks dedupes)', async (t) => {
  const target = await createTarget('raced');
  await seedAvailableBackup(target);
  await app.inject({ method: 'PUT', url: policyUrl(target), headers: bearer(acme), payload: { schedule: '@hourly' } });
  await db.ownerQuery(`UPDATE drill_policies SET last_tick = now() - interval '2 hours' WHERE target_id = $1`, [
    target,
  ]);
  const now = new Date();
  const [first, second] = await Promise.all([scheduleDueDrills(db.appPool, now), scheduleDueDrills(db.appPool, now)]);
  const outcomes = [...(first ?? []), ...(second ?? [])].filter((d) => d.target === target).map((d) => d.outcome);
  // The second pass either waited on the first's row lock and found the tick taken, or read the policy
  // after the first committed and found nothing due; never a second drill.
  t.equal(outcomes.filter((o) => o === 'enqueued').length, 1);
  t.ok(outcomes.every((o) => o === 'enqueued' || o === 'taken'));
  const jobs = await db.ownerQuery(`SELECT id FROM jobs WHERE kind = 'verify' AND target_id = $1`, [target]);
  t.equal(jobs.length, 1);
  // The same tick once more: nothing new, because last_tick moved past it.
  const replay = await scheduleDueDrills(db.appPool, now);
  t.same(
    replay.filter((d) => d.target === target),
    [],
  );
  // A hand-made duplicate tick row is refused by the primary key, and the pass rolls back its job.
  await db.ownerQuery(`UPDATE drill_policies SET last_tick = now() - interval '2 hours' WHERE target_id = $1`, [
    target,
  ]);
  const rerun = await scheduleDueDrills(db.appPool, now);
  t.same(
    rerun.filter((d) => d.target === target).map((d) => d.outcome),
    ['taken'],
  );
  const after = await db.ownerQuery(`SELECT id FROM jobs WHERE kind = 'verify' AND target_id = $1`, [target]);
  t.equal(after.length, 1, 'still one drill');
});

t.test('a stored schedule that no longer parses is skipped, not fatal', async (t) => {
  const target = await createTarget('broken');
  await app.inject({ method: 'PUT', url: policyUrl(target), headers: bearer(acme), payload: { schedule: '@daily' } });
  await db.ownerQuery(`UPDATE drill_policies SET schedule = 'nonsense' WHERE target_id = $1`, [target]);
  const warnings: unknown[] = [];
  const log = { info: () => {}, warn: (o: unknown) => warnings.push(o), error: () => {} };
  const done = await scheduleDueDrills(db.appPool, new Date(), log);
  t.same(
    done.filter((d) => d.target === target),
    [],
  );
  t.ok(warnings.length > 0);
  await db.ownerQuery('DELETE FROM drill_policies WHERE target_id = $1', [target]);
});
