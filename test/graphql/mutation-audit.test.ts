import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';

const { app, db, token, seedTenants } = await buildTestApp(t);
await seedTenants('acme');
const [target] = await db.ownerQuery<{ id: string }>(
  `INSERT INTO targets (tenant_id, name, secret_ref) VALUES ('acme', 'main', 'file:acme/main') RETURNING id`,
);
const targetId = target?.id as string;
const writer = token('acme', ['backups:write']);

let requests = 0;
/** One GraphQL request under its own request id, and the audit events recorded for it. */
async function mutate(tok: string, query: string) {
  const requestId = `mutation-audit-${++requests}`;
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { ...bearer(tok), 'x-request-id': requestId },
    payload: { query, variables: { t: targetId } },
  });
  const audit = await app.inject({
    method: 'GET',
    url: '/v1/audit?limit=100',
    headers: bearer(token('acme', ['audit:read'])),
  });
  const events = (audit.json().items as { requestId: string; action: string }[]).filter(
    (e) => e.requestId === requestId,
  );
  return { body: res.json(), events };
}

t.test('two mutations in one document record two audit events, one per field', async (t) => {
  const { body, events } = await mutate(
    writer,
    `mutation($t: ID!) {
       setDrillPolicy(targetId: $t, schedule: "0 3 * * *") { schedule }
       deleteDrillPolicy(targetId: $t)
     }`,
  );
  t.same(body.errors, undefined);
  t.same(body.data, { setDrillPolicy: { schedule: '0 3 * * *' }, deleteDrillPolicy: true });
  t.match(events.map((e) => e.action).sort(), ['graphql:deleteDrillPolicy', 'graphql:setDrillPolicy']);
  t.equal(events.length, 2);
  t.match(events, [
    { tenantId: 'acme', actor: 'tester', resource: '/graphql', outcome: 'success', statusCode: 200 },
    { tenantId: 'acme', actor: 'tester', resource: '/graphql', outcome: 'success', statusCode: 200 },
  ]);
});

t.test('the same mutation twice under aliases is audited twice, by its field name', async (t) => {
  const { events } = await mutate(
    writer,
    `mutation($t: ID!) {
       early: setDrillPolicy(targetId: $t, schedule: "0 3 * * *") { schedule }
       late: setDrillPolicy(targetId: $t, schedule: "0 4 * * *") { schedule }
     }`,
  );
  t.same(
    events.map((e) => e.action),
    ['graphql:setDrillPolicy', 'graphql:setDrillPolicy'],
  );
});

t.test('a refused mutation is audited as denied; a query is not audited at all', async (t) => {
  const denied = await mutate(
    token('acme', ['backups:read']),
    `mutation($t: ID!) { setDrillPolicy(targetId: $t, schedule: "0 3 * * *") { schedule } }`,
  );
  t.equal(denied.body.errors[0].extensions.code, 'PGS_MISSING_SCOPE');
  t.match(denied.events, [{ action: 'graphql:setDrillPolicy', outcome: 'denied', statusCode: 403 }]);
  t.equal(denied.events.length, 1);
  const read = await mutate(writer, '{ viewer { actor } }');
  t.equal(read.body.data.viewer.actor, 'tester');
  t.same(read.events, []);
});
