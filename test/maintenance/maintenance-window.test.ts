import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';
import { postGraphql } from '../helpers/graphql.js';

const { app, token, seedTenants, writeSecrets } = await buildTestApp(t);
await seedTenants('acme', 'globex');
const writer = token('acme', ['targets:read', 'targets:write', 'maintenance:write']);
const reader = token('acme', ['targets:read', 'health:read']);
const targetsOnly = token('acme', ['targets:read']);
const globex = token('globex', ['targets:read', 'maintenance:write', 'health:read']);

writeSecrets({ 'acme/main': { username: 'app', password: 'not-used' } });
const created = await app.inject({
  method: 'POST',
  url: '/v1/targets',
  headers: bearer(token('acme', ['targets:write'])),
  payload: { name: 'main', secretRef: 'file:acme/main', host: 'localhost', database: 'app' },
});
const targetId = created.json().id as string;
const url = `/v1/targets/${targetId}/maintenance-window`;

t.test('a maintenance window is set, read, replaced and deleted over REST', async (t) => {
  const missing = await app.inject({ method: 'GET', url, headers: bearer(reader) });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'PGS_MAINTENANCE_WINDOW_NOT_FOUND');

  const set = await app.inject({
    method: 'PUT',
    url,
    headers: bearer(writer),
    payload: { schedule: '0 2 * * 0', durationMinutes: 120, timezone: 'Europe/Berlin' },
  });
  t.equal(set.statusCode, 200);
  t.match(set.json(), { targetId, schedule: '0 2 * * 0', durationMinutes: 120, timezone: 'Europe/Berlin' });
  const next = new Date(set.json().nextStart);
  t.ok(next > new Date());
  t.equal(next.getUTCDay(), 0, '02:00 on Sunday in Berlin is on Sunday in UTC too');
  t.ok([0, 1].includes(next.getUTCHours()));

  const always = await app.inject({
    method: 'PUT',
    url,
    headers: bearer(writer),
    payload: { schedule: '0 0 * * *', durationMinutes: 1440 },
  });
  t.match(always.json(), { timezone: 'UTC', openNow: true, openUntil: String });
  const read = await app.inject({ method: 'GET', url, headers: bearer(reader) });
  t.same(read.json().schedule, '0 0 * * *');
  t.equal((await app.inject({ method: 'GET', url, headers: bearer(targetsOnly) })).statusCode, 403);

  t.equal((await app.inject({ method: 'DELETE', url, headers: bearer(reader) })).statusCode, 403);
  t.equal((await app.inject({ method: 'DELETE', url, headers: bearer(writer) })).statusCode, 204);
  const again = await app.inject({ method: 'DELETE', url, headers: bearer(writer) });
  t.equal(again.statusCode, 404);
  t.equal(again.json().code, 'PGS_MAINTENANCE_WINDOW_NOT_FOUND');
});

t.test('a bad schedule, time zone or duration answers 400 with its code', async (t) => {
  const cases: [object, string][] = [
    [{ schedule: '* * * * * *', durationMinutes: 60 }, 'PGS_INVALID_SCHEDULE'],
    [{ schedule: '61 * * * *', durationMinutes: 60 }, 'PGS_INVALID_SCHEDULE'],
    [{ schedule: '@daily', durationMinutes: 60, timezone: 'Mars/Olympus' }, 'PGS_INVALID_TIMEZONE'],
    [{ schedule: '@daily', durationMinutes: 0 }, 'PGS_VALIDATION'],
    [{ schedule: '@daily', durationMinutes: 1441 }, 'PGS_VALIDATION'],
    [{ schedule: '@daily' }, 'PGS_VALIDATION'],
  ];
  for (const [payload, code] of cases) {
    const res = await app.inject({ method: 'PUT', url, headers: bearer(writer), payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.equal(res.json().code, code);
  }
});

t.test("another tenant's target answers 404 for its window, in REST and GraphQL", async (t) => {
  await app.inject({
    method: 'PUT',
    url,
    headers: bearer(writer),
    payload: { schedule: '@daily', durationMinutes: 60 },
  });
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const res = await app.inject({
      method,
      url,
      headers: bearer(globex),
      ...(method === 'PUT' ? { payload: { schedule: '@daily', durationMinutes: 60 } } : {}),
    });
    t.equal(res.statusCode, 404, method);
    t.equal(res.json().code, 'PGS_TARGET_NOT_FOUND');
  }
  const q = await postGraphql(app, globex, 'query($t: ID!) { maintenanceWindow(targetId: $t) { schedule } }', {
    t: targetId,
  });
  t.equal(q.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const m = await postGraphql(
    app,
    globex,
    'mutation($t: ID!) { startMaintenance(targetId: $t, input: { action: VACUUM }) { id } }',
    { t: targetId },
  );
  t.equal(m.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const run = await postGraphql(
    app,
    globex,
    'query { maintenanceRun(id: "00000000-0000-4000-8000-000000000000") { id } }',
  );
  t.equal(run.errors?.[0]?.extensions.code, 'PGS_MAINTENANCE_NOT_FOUND');
  const mine = await app.inject({ method: 'GET', url, headers: bearer(reader) });
  t.equal(mine.json().schedule, '@daily', 'the window is untouched');
});

t.test('GraphQL sets, reads (also on Target, batched) and deletes the window; mutations are audited', async (t) => {
  const set = await postGraphql(
    app,
    writer,
    `mutation($t: ID!) { setMaintenanceWindow(targetId: $t, schedule: "30 1 * * 6", durationMinutes: 90, timezone: "UTC") {
       targetId schedule durationMinutes timezone openNow nextStart } }`,
    { t: targetId },
  );
  t.same(set.errors, undefined);
  t.match(set.data, {
    setMaintenanceWindow: { targetId, schedule: '30 1 * * 6', durationMinutes: 90, timezone: 'UTC' },
  });
  const viaTarget = await postGraphql(app, reader, '{ targets { items { id maintenanceWindow { schedule } } } }');
  t.same(viaTarget.data, { targets: { items: [{ id: targetId, maintenanceWindow: { schedule: '30 1 * * 6' } }] } });
  const noScope = await postGraphql(app, targetsOnly, '{ targets { items { id maintenanceWindow { schedule } } } }');
  t.same(noScope.data, { targets: { items: [{ id: targetId, maintenanceWindow: null }] } }, 'null without the scope');

  const started = await postGraphql(
    app,
    writer,
    'mutation($t: ID!) { startMaintenance(targetId: $t, input: { action: VACUUM_FULL, tables: ["users"] }) { id } }',
    { t: targetId },
  );
  t.equal(started.errors?.[0]?.extensions.code, 'PGS_OUTSIDE_MAINTENANCE_WINDOW', 'refused as in REST');

  const deleted = await postGraphql(app, writer, 'mutation($t: ID!) { deleteMaintenanceWindow(targetId: $t) }', {
    t: targetId,
  });
  t.same(deleted.data, { deleteMaintenanceWindow: true });
  const gone = await postGraphql(app, reader, 'query($t: ID!) { maintenanceWindow(targetId: $t) { schedule } }', {
    t: targetId,
  });
  t.same(gone.data, { maintenanceWindow: null });

  const audit = await app.inject({
    method: 'GET',
    url: '/v1/audit?limit=200',
    headers: bearer(token('acme', ['audit:read'])),
  });
  const actions = (audit.json().items as { action: string }[]).map((e) => e.action);
  for (const a of ['graphql:setMaintenanceWindow', 'graphql:startMaintenance', 'graphql:deleteMaintenanceWindow']) {
    t.ok(actions.includes(a), `${a} is audited`);
  }
  t.ok(
    (audit.json().items as { resource: string }[]).some((e) => e.resource === `targets/${targetId}/maintenance-window`),
    'REST window changes are audited with the window as resource',
  );
});
