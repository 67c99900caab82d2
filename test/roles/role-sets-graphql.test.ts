// Issue 9 §6: GraphQL parity for role sets and the inventory, tenancy and audit included.
import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';
import { postGraphql } from '../helpers/graphql.js';
import { adminSecret, createAdminDatabase } from './fixture.js';

const test = await buildTestApp(t);
const { app, db, writeSecrets, token, seedTenants } = test;
await seedTenants('acme', 'umbrella');
const admin = await createAdminDatabase(t, db.cluster);
writeSecrets({ 'acme/main': adminSecret(admin) });
const acme = token('acme', ['targets:write', 'targets:read', 'roles:read', 'roles:write']);
const umbrella = token('umbrella', ['targets:read', 'roles:read', 'roles:write']);
const targetId = (
  await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: { name: 'main', secretRef: 'file:acme/main', adminSecretRef: 'file:acme/main' },
  })
).json().id as string;
const set = `g${admin.suffix}`;

const APPLY = `mutation($t: ID!, $n: String!, $i: RoleSetInput, $d: Boolean) {
  applyRoleSet(targetId: $t, name: $n, input: $i, dryRun: $d) {
    name roles roleNames dryRun changed statements drift { inSync missingRoles }
  }
}`;

t.test('applyRoleSet: dry run, apply, and a second apply that changes nothing', async (t) => {
  const dry = await postGraphql(app, acme, APPLY, { t: targetId, n: set, i: { roles: ['READONLY'] }, d: true });
  t.same(dry.errors, undefined);
  t.match(dry.data?.applyRoleSet, { dryRun: true, changed: true, roles: ['READONLY'], roleNames: [`${set}_readonly`] });
  const applied = await postGraphql(app, acme, APPLY, { t: targetId, n: set, i: { roles: ['READONLY', 'READWRITE'] } });
  t.same(applied.errors, undefined);
  t.match(applied.data?.applyRoleSet, { dryRun: false, changed: true, drift: { inSync: false } });
  const again = await postGraphql(app, acme, APPLY, { t: targetId, n: set, i: { roles: ['READONLY', 'READWRITE'] } });
  t.match(again.data?.applyRoleSet, { changed: false, statements: [] });
});

t.test('queries: roleSet with drift, Target.roleSets, serverRoles', async (t) => {
  const q = await postGraphql(
    app,
    acme,
    `query($t: ID!, $n: String!) {
      roleSet(targetId: $t, name: $n) { name roles database drift { inSync members { member } } }
      missing: roleSet(targetId: $t, name: "nope") { name }
      target(id: $t) { roleSets { name drift { inSync } } }
      serverRoles(targetId: $t, first: 100) { items { name login managed managedBy } }
    }`,
    { t: targetId, n: set },
  );
  t.same(q.errors, undefined);
  t.match(q.data?.roleSet, {
    name: set,
    roles: ['READONLY', 'READWRITE'],
    database: admin.name,
    drift: { inSync: true },
  });
  t.equal(q.data?.missing, null);
  t.same(q.data?.target, { roleSets: [{ name: set, drift: { inSync: true } }] });
  const inventory = q.data?.serverRoles as { items: { name: string; managed: boolean; managedBy: string | null }[] };
  const roles = inventory.items;
  t.match(
    roles.find((r) => r.name === `${set}_readonly`),
    { managed: true, managedBy: `role-set:${set}` },
  );
});

t.test('another tenant: null or PGS_TARGET_NOT_FOUND, and nothing changes', async (t) => {
  const q = await postGraphql(
    app,
    umbrella,
    'query($t: ID!, $n: String!) { roleSet(targetId: $t, name: $n) { name } }',
    {
      t: targetId,
      n: set,
    },
  );
  t.equal(q.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const m = await postGraphql(app, umbrella, APPLY, { t: targetId, n: set, i: { roles: ['MIGRATIONS'] } });
  t.equal(m.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const d = await postGraphql(
    app,
    umbrella,
    'mutation($t: ID!, $n: String!) { deleteRoleSet(targetId: $t, name: $n) }',
    {
      t: targetId,
      n: set,
    },
  );
  t.equal(d.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const inv = await postGraphql(app, umbrella, 'query($t: ID!) { serverRoles(targetId: $t) { items { name } } }', {
    t: targetId,
  });
  t.equal(inv.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
});

t.test('bad input answers its code', async (t) => {
  const bad = await postGraphql(app, acme, APPLY, { t: targetId, n: 'x"; DROP ROLE postgres; --' });
  t.equal(bad.errors?.[0]?.extensions.code, 'PGS_ROLE_NAME_INVALID');
  const empty = await postGraphql(app, acme, APPLY, { t: targetId, n: set, i: { schemas: [] } });
  t.equal(empty.errors?.[0]?.extensions.code, 'PGS_VALIDATION');
});

t.test('deleteRoleSet drops the roles; both mutations are audited', async (t) => {
  const d = await postGraphql(app, acme, 'mutation($t: ID!, $n: String!) { deleteRoleSet(targetId: $t, name: $n) }', {
    t: targetId,
    n: set,
  });
  t.same(d.data, { deleteRoleSet: true });
  const left = await admin.superQuery('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`${set}\\_%`]);
  t.same(left, []);
  const events = await db.ownerQuery<{ action: string }>(
    `SELECT DISTINCT action FROM audit_events WHERE tenant_id = 'acme' AND action LIKE 'graphql:%RoleSet' ORDER BY 1`,
  );
  t.same(
    events.map((e) => e.action),
    ['graphql:applyRoleSet', 'graphql:deleteRoleSet'],
  );
});
