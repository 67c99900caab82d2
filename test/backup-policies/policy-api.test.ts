import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';
import { postGraphql } from '../helpers/graphql.js';
import { seedBackup } from './seed.js';

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
const policyUrl = (id = targetId) => `/v1/targets/${id}/backup-policy`;
const gql = (who: string, query: string, variables: Record<string, unknown> = {}) =>
  postGraphql(app, who, query, variables);

const DAY = 86_400_000;
const seed = (target: string, f: { status?: string; daysAgo?: number; tick?: boolean } = {}) =>
  seedBackup(db, target, { status: f.status ?? 'available', ageMs: (f.daysAgo ?? 0) * DAY, scheduled: f.tick ?? true });

t.test('a backup policy is set, read, replaced and deleted over REST, and every change is audited', async (t) => {
  const missing = await app.inject({ method: 'GET', url: policyUrl(), headers: bearer(acme) });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'PGS_BACKUP_POLICY_NOT_FOUND');

  const set = await app.inject({
    method: 'PUT',
    url: policyUrl(),
    headers: bearer(acme),
    payload: {
      schedule: '0 2 * * *',
      timezone: 'Europe/Berlin',
      options: { format: 'custom', compression: { method: 'gzip', level: 6 } },
      retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, maxAgeDays: 400 },
      verifyEvery: 7,
    },
  });
  t.equal(set.statusCode, 200);
  const policy = set.json();
  t.match(policy, {
    targetId,
    schedule: '0 2 * * *',
    timezone: 'Europe/Berlin',
    options: { format: 'custom', compression: { method: 'gzip', level: 6 }, includeGlobals: true },
    retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, maxAgeDays: 400 },
    verifyEvery: 7,
    enabled: true,
    lastRun: null,
  });
  const next = new Date(policy.nextRun);
  t.ok(next > new Date(), 'the next run is in the future');
  t.ok([0, 1].includes(next.getUTCHours()), '02:00 in Berlin is 00:00 or 01:00 UTC');

  const replaced = await app.inject({
    method: 'PUT',
    url: policyUrl(),
    headers: bearer(acme),
    payload: { schedule: '@daily', enabled: false },
  });
  t.match(replaced.json(), { schedule: '@daily', timezone: 'UTC', retention: {}, verifyEvery: null, nextRun: null });
  const read = await app.inject({ method: 'GET', url: policyUrl(), headers: bearer(acmeReadOnly) });
  t.same(read.json(), replaced.json());

  const denied = await app.inject({ method: 'DELETE', url: policyUrl(), headers: bearer(acmeReadOnly) });
  t.equal(denied.statusCode, 403);
  const deleted = await app.inject({ method: 'DELETE', url: policyUrl(), headers: bearer(acme) });
  t.equal(deleted.statusCode, 204);
  const again = await app.inject({ method: 'DELETE', url: policyUrl(), headers: bearer(acme) });
  t.equal(again.json().code, 'PGS_BACKUP_POLICY_NOT_FOUND');
  const audit = await db.ownerQuery<{ action: string; resource: string }>(
    `SELECT action, resource FROM audit_events WHERE resource = $1 AND outcome = 'success' ORDER BY id`,
    [`targets/${targetId}/backup-policy`],
  );
  t.same(
    audit.map((a) => a.action),
    ['setBackupPolicy', 'setBackupPolicy', 'deleteBackupPolicy'],
  );
});

t.test('bad input answers 400 with its code, and nothing is stored', async (t) => {
  const other = await createTarget('badinput');
  const cases: [object, string][] = [
    [{ schedule: 'every night' }, 'PGS_INVALID_SCHEDULE'],
    [{ schedule: '* * * * * *' }, 'PGS_INVALID_SCHEDULE'],
    [{ schedule: '@daily', timezone: 'Mars/Olympus_Mons' }, 'PGS_INVALID_TIMEZONE'],
    [{ schedule: '@daily', options: { format: 'tar', compression: { method: 'gzip' } } }, 'PGS_VALIDATION'],
    [{ schedule: '@daily', options: { schemaOnly: true, dataOnly: true } }, 'PGS_VALIDATION'],
    [{ schedule: '@daily', retention: { keepDaily: -1 } }, 'PGS_VALIDATION'],
    [{ schedule: '@daily', retention: { maxAgeDays: 0 } }, 'PGS_VALIDATION'],
    [{ schedule: '@daily', retention: { keepForever: 1 } }, 'PGS_VALIDATION'],
    [{ schedule: '@daily', verifyEvery: 0 }, 'PGS_VALIDATION'],
  ];
  for (const [payload, code] of cases) {
    const res = await app.inject({ method: 'PUT', url: policyUrl(other), headers: bearer(acme), payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.equal(res.json().code, code, JSON.stringify(payload));
  }
  const gone = await app.inject({ method: 'GET', url: policyUrl(other), headers: bearer(acme) });
  t.equal(gone.statusCode, 404, 'nothing was stored');
  const plan = await app.inject({ method: 'GET', url: `${policyUrl(other)}/retention-plan`, headers: bearer(acme) });
  t.equal(plan.json().code, 'PGS_BACKUP_POLICY_NOT_FOUND');
});

t.test('the retention plan says which backups are kept by which rule, and which are deleted', async (t) => {
  const target = await createTarget('planned');
  await app.inject({
    method: 'PUT',
    url: policyUrl(target),
    headers: bearer(acme),
    payload: { schedule: '@daily', retention: { keepLast: 1, maxAgeDays: 30 } },
  });
  const newest = await seed(target, { daysAgo: 0 });
  const middle = await seed(target, { daysAgo: 2 });
  const manual = await seed(target, { daysAgo: 3, tick: false });
  const ancient = await seed(target, { daysAgo: 40, tick: false });
  const failed = await seed(target, { daysAgo: 1, status: 'failed' });
  const running = await seed(target, { status: 'running' });
  const res = await app.inject({ method: 'GET', url: `${policyUrl(target)}/retention-plan`, headers: bearer(acme) });
  t.equal(res.statusCode, 200);
  const byId = new Map(
    (res.json().items as { backupId: string; action: string; rules: string[] }[]).map((i) => [i.backupId, i]),
  );
  t.match(byId.get(newest), { action: 'keep', rules: ['newest', 'keepLast'] });
  t.match(byId.get(middle), { action: 'delete', rules: ['unmatched'] });
  t.match(byId.get(manual), { action: 'keep', rules: ['manual'] });
  t.match(byId.get(ancient), { action: 'delete', rules: ['maxAgeDays'] });
  t.match(byId.get(running), { action: 'keep', rules: ['in-progress'] });
  t.notOk(byId.has(failed), 'failed backups are not in the plan');

  // Pinning keeps the one the plan would delete.
  const pin = await app.inject({
    method: 'PATCH',
    url: `/v1/backups/${middle}`,
    headers: bearer(acme),
    payload: { pinned: true },
  });
  t.equal(pin.statusCode, 200);
  t.match(pin.json(), { id: middle, pinned: true, tick: String, policyId: null });
  const after = await app.inject({ method: 'GET', url: `${policyUrl(target)}/retention-plan`, headers: bearer(acme) });
  t.match(
    (after.json().items as { backupId: string }[]).find((i) => i.backupId === middle),
    { action: 'keep', rules: ['pinned'] },
  );
  const denied = await app.inject({
    method: 'PATCH',
    url: `/v1/backups/${middle}`,
    headers: bearer(acmeReadOnly),
    payload: { pinned: false },
  });
  t.equal(denied.statusCode, 403);
  const junk = await app.inject({
    method: 'PATCH',
    url: `/v1/backups/${middle}`,
    headers: bearer(acme),
    payload: { pinned: 'yes' },
  });
  t.equal(junk.statusCode, 400);
});

t.test('another tenant gets 404 for the policy, its plan and pinning, in REST and GraphQL', async (t) => {
  await app.inject({ method: 'PUT', url: policyUrl(), headers: bearer(acme), payload: { schedule: '@hourly' } });
  const backup = await seed(targetId);
  for (const [method, url] of [
    ['GET', policyUrl()],
    ['PUT', policyUrl()],
    ['DELETE', policyUrl()],
    ['GET', `${policyUrl()}/retention-plan`],
  ] as const) {
    const res = await app.inject({
      method,
      url,
      headers: bearer(globex),
      ...(method === 'PUT' ? { payload: { schedule: '@daily' } } : {}),
    });
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.equal(res.json().code, 'PGS_TARGET_NOT_FOUND', `${method} ${url}`);
  }
  const pin = await app.inject({
    method: 'PATCH',
    url: `/v1/backups/${backup}`,
    headers: bearer(globex),
    payload: { pinned: true },
  });
  t.equal(pin.statusCode, 404);
  t.equal(pin.json().code, 'PGS_BACKUP_NOT_FOUND');
  const read = await gql(globex, 'query($id: ID!) { backupPolicy(targetId: $id) { schedule } }', { id: targetId });
  t.equal(read.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const plan = await gql(globex, 'query($id: ID!) { retentionPlan(targetId: $id) { timezone } }', { id: targetId });
  t.equal(plan.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const write = await gql(
    globex,
    'mutation($id: ID!) { setBackupPolicy(targetId: $id, policy: {schedule: "@daily"}) { schedule } }',
    { id: targetId },
  );
  t.equal(write.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const del = await gql(globex, 'mutation($id: ID!) { deleteBackupPolicy(targetId: $id) }', { id: targetId });
  t.equal(del.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const pinGql = await gql(globex, 'mutation($id: ID!) { pinBackup(backupId: $id, pinned: true) { id } }', {
    id: backup,
  });
  t.equal(pinGql.errors?.[0]?.extensions.code, 'PGS_BACKUP_NOT_FOUND');
  const still = await app.inject({ method: 'GET', url: policyUrl(), headers: bearer(acme) });
  t.equal(still.json().schedule, '@hourly', "acme's policy is untouched");
  const [row] = await db.ownerQuery<{ pinned: boolean }>('SELECT pinned FROM backups WHERE id = $1', [backup]);
  t.equal(row?.pinned, false, "acme's backup is not pinned");
});

t.test('GraphQL sets, reads, plans, pins and deletes with the same rules', async (t) => {
  const other = await createTarget('graph');
  const none = await gql(acme, 'query($id: ID!) { backupPolicy(targetId: $id) { schedule } }', { id: other });
  t.same(none.data, { backupPolicy: null });
  const bad = await gql(
    acme,
    'mutation($id: ID!) { setBackupPolicy(targetId: $id, policy: {schedule: "@daily", retention: {keepDaily: -3}}) { schedule } }',
    { id: other },
  );
  t.equal(bad.errors?.[0]?.extensions.code, 'PGS_VALIDATION');
  const set = await gql(
    acme,
    `mutation($id: ID!) { setBackupPolicy(targetId: $id, policy: {
        schedule: "30 1 * * *", timezone: "Asia/Tokyo", options: {format: DIRECTORY, parallel: 2},
        retention: {keepDaily: 7, keepWeekly: 4}, verifyEvery: 3 }) {
      targetId schedule timezone options { format parallel } retention { keepDaily keepWeekly keepLast }
      verifyEvery enabled nextRun lastRun { outcome } } }`,
    { id: other },
  );
  t.same(set.errors, undefined);
  t.match(set.data, {
    setBackupPolicy: {
      targetId: other,
      schedule: '30 1 * * *',
      timezone: 'Asia/Tokyo',
      options: { format: 'DIRECTORY', parallel: 2 },
      retention: { keepDaily: 7, keepWeekly: 4, keepLast: null },
      verifyEvery: 3,
      enabled: true,
      lastRun: null,
    },
  });
  const b = await seed(other);
  const plan = await gql(
    acme,
    'query($id: ID!) { retentionPlan(targetId: $id) { timezone items { backupId status action rules } } }',
    { id: other },
  );
  t.same(plan.data, {
    retentionPlan: {
      timezone: 'Asia/Tokyo',
      items: [{ backupId: b, status: 'AVAILABLE', action: 'KEEP', rules: ['newest', 'keepDaily', 'keepWeekly'] }],
    },
  });
  const pinned = await gql(
    acme,
    'mutation($id: ID!) { pinBackup(backupId: $id, pinned: true) { id pinned tick expiredRule expiredAt } }',
    { id: b },
  );
  t.match(pinned.data, { pinBackup: { id: b, pinned: true, expiredRule: null, expiredAt: null } });
  const viaTarget = await gql(acme, 'query { targets { items { name backupPolicy { schedule } } } }');
  const items = (viaTarget.data?.targets as { items: { name: string; backupPolicy: unknown }[] } | undefined)?.items;
  t.same(items?.find((i) => i.name === 'graph')?.backupPolicy, { schedule: '30 1 * * *' });
  const unscoped = await gql(
    token('acme', ['targets:read']),
    'query { targets { items { backupPolicy { schedule } } } }',
  );
  t.ok(
    ((unscoped.data?.targets as { items: { backupPolicy: unknown }[] } | undefined)?.items ?? []).every(
      (i) => i.backupPolicy === null,
    ),
    'without backups:read the relation is null',
  );
  const del = await gql(acme, 'mutation($id: ID!) { deleteBackupPolicy(targetId: $id) }', { id: other });
  t.same(del.data, { deleteBackupPolicy: true });
  const audit = await db.ownerQuery<{ action: string }>(
    `SELECT action FROM audit_events WHERE tenant_id = 'acme' AND action LIKE 'graphql:%' AND outcome = 'success'`,
  );
  const actions = new Set(audit.map((a) => a.action));
  for (const m of ['setBackupPolicy', 'pinBackup', 'deleteBackupPolicy']) t.ok(actions.has(`graphql:${m}`), m);
});
