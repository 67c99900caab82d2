// Issue 9 §1: a target's optional adminSecretRef, bound to the tenant like secretRef, never echoed with
// secret content, and the admin session role work opens with it (PostgreSQL 15 and 18).
import t from 'tap';
import { withAdminAccess } from '../../src/domain/roles/admin-session.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { postGraphql } from '../helpers/graphql.js';
import { pg18Skip, startPg18Cluster } from '../helpers/pg18.js';
import { adminSecret, createAdminDatabase } from './fixture.js';

const test = await buildTestApp(t);
const { app, db, writeSecrets, token, seedTenants, services } = test;
await seedTenants('acme', 'umbrella');
const admin = await createAdminDatabase(t, db.cluster);
writeSecrets({
  'acme/main': adminSecret(admin),
  'acme/admin': adminSecret(admin),
  'acme/elsewhere': { ...adminSecret(admin), port: 1 },
  'acme/wrong': { ...adminSecret(admin), password: 'not-the-password' },
  'umbrella/admin': adminSecret(admin),
});
const acme = token('acme', ['targets:read', 'targets:write']);

const create = (payload: Record<string, unknown>, as = acme) =>
  app.inject({ method: 'POST', url: '/v1/targets', headers: bearer(as), payload });

t.test('a target takes an adminSecretRef, shows the reference and never the secret', async (t) => {
  const res = await create({ name: 'with-admin', secretRef: 'file:acme/main', adminSecretRef: 'file:acme/admin' });
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.json().adminSecretRef, 'file:acme/admin');
  t.notMatch(res.body, admin.admin.password, 'no password in the answer');
  const got = await app.inject({ url: `/v1/targets/${res.json().id}`, headers: bearer(acme) });
  t.equal(got.json().adminSecretRef, 'file:acme/admin');
  const gql = await postGraphql(app, acme, 'query($id: ID!) { target(id: $id) { secretRef adminSecretRef } }', {
    id: res.json().id,
  });
  t.same(gql.data, { target: { secretRef: 'file:acme/main', adminSecretRef: 'file:acme/admin' } });

  const cleared = await app.inject({
    method: 'PATCH',
    url: `/v1/targets/${res.json().id}`,
    headers: bearer(acme),
    payload: { adminSecretRef: null },
  });
  t.equal(cleared.statusCode, 200, cleared.body);
  t.equal(cleared.json().adminSecretRef, null, 'null removes it');
});

t.test('a target without one shows null', async (t) => {
  const res = await create({ name: 'plain', secretRef: 'file:acme/main' });
  t.equal(res.statusCode, 201);
  t.equal(res.json().adminSecretRef, null);
});

t.test("another tenant's admin secret answers 422 PGS_SECRET_NOT_FOUND, on create and update", async (t) => {
  const res = await create({ name: 'theft', secretRef: 'file:acme/main', adminSecretRef: 'file:umbrella/admin' });
  t.equal(res.statusCode, 422);
  t.equal(res.json().code, 'PGS_SECRET_NOT_FOUND');
  const ok = await create({ name: 'theft2', secretRef: 'file:acme/main' });
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/targets/${ok.json().id}`,
    headers: bearer(acme),
    payload: { adminSecretRef: 'file:umbrella/admin' },
  });
  t.equal(patched.statusCode, 422);
  t.equal(patched.json().code, 'PGS_SECRET_NOT_FOUND');
});

t.test('an admin secret for another server answers 422 PGS_SECRET_ADDRESS_MISMATCH', async (t) => {
  const res = await create({ name: 'moved', secretRef: 'file:acme/main', adminSecretRef: 'file:acme/elsewhere' });
  t.equal(res.statusCode, 422);
  t.equal(res.json().code, 'PGS_SECRET_ADDRESS_MISMATCH');
  t.notMatch(res.body, admin.admin.password);
});

t.test('a malformed adminSecretRef is 400', async (t) => {
  const res = await create({ name: 'bad', secretRef: 'file:acme/main', adminSecretRef: 'http://x' });
  t.equal(res.statusCode, 400);
});

t.test('withAdminAccess opens a session as the admin role, and refuses what it must', async (t) => {
  const caller = { pool: db.appPool, services, tenantId: 'acme' };
  const withAdmin = await create({ name: 'sess', secretRef: 'file:acme/main', adminSecretRef: 'file:acme/admin' });
  const seen = await withAdminAccess(caller, withAdmin.json().id, undefined, async (client, session) => {
    const { rows } = await client.query('SELECT current_database() AS db, session_user AS who');
    return { ...rows[0], adminRole: session.adminRole, major: session.serverMajor };
  });
  t.same(seen, { db: admin.name, who: admin.admin.role, adminRole: admin.admin.role, major: db.cluster.major });

  const plain = await create({ name: 'sess-plain', secretRef: 'file:acme/main' });
  await t.rejects(
    withAdminAccess(caller, plain.json().id, undefined, async () => 1),
    {
      code: 'PGS_ADMIN_SECRET_REQUIRED',
      statusCode: 409,
    },
  );
  await t.rejects(
    withAdminAccess({ ...caller, tenantId: 'umbrella' }, withAdmin.json().id, undefined, async () => 1),
    { code: 'PGS_TARGET_NOT_FOUND', statusCode: 404 },
    "another tenant's target is not found",
  );
  await t.rejects(
    withAdminAccess(caller, 'not-a-uuid', undefined, async () => 1),
    { code: 'PGS_TARGET_NOT_FOUND' },
  );
});

t.test('withAdminAccess on PostgreSQL 18', { skip: pg18Skip }, async (t) => {
  const cluster = await startPg18Cluster(t);
  const admin18 = await createAdminDatabase(t, cluster);
  writeSecrets({ 'acme/pg18': adminSecret(admin18) });
  const res = await create({ name: 'pg18', secretRef: 'file:acme/pg18', adminSecretRef: 'file:acme/pg18' });
  t.equal(res.statusCode, 201, res.body);
  const major = await withAdminAccess(
    { pool: db.appPool, services, tenantId: 'acme' },
    res.json().id,
    undefined,
    async (_c, s) => s.serverMajor,
  );
  t.equal(major, 18);
});

t.test('a server that refuses the credential answers 422 PGS_TARGET_NOT_REACHED, never a 5xx', async (t) => {
  const roles = token('acme', ['targets:write', 'roles:read', 'roles:write']);
  const res = await create({ name: 'wrong', secretRef: 'file:acme/wrong', adminSecretRef: 'file:acme/wrong' }, roles);
  t.equal(res.statusCode, 201, res.body);
  const inventory = await app.inject({ url: `/v1/targets/${res.json().id}/roles`, headers: bearer(roles) });
  t.equal(inventory.statusCode, 422, inventory.body);
  t.match(inventory.json(), { code: 'PGS_TARGET_NOT_REACHED', cause: 'PGS_AUTH_FAILED' });
  const put = await app.inject({
    method: 'PUT',
    url: `/v1/targets/${res.json().id}/role-sets/app`,
    headers: bearer(roles),
    payload: {},
  });
  t.equal(put.statusCode, 422, put.body);
  t.equal(put.json().code, 'PGS_TARGET_NOT_REACHED');
  t.notMatch(put.body, admin.admin.password);
});
