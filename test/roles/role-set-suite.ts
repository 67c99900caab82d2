// Issue 9 §2, §5, §6 acceptance, run once per server version (role-sets-pg15/pg18.test.ts): real
// logins prove each privilege, drift shows and is removed, delete refuses while users are members,
// hostile input changes nothing on the server, other tenants get 404, every mutation is audited.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Test } from 'tap';
import { quoteIdent, quoteLiteral } from '../../src/sql/identifiers.js';
import { bearer, type TestApp } from '../helpers/app.js';
import type { TestCluster } from '../helpers/pg-cluster.js';
import { type AdminDatabase, adminSecret, createAdminDatabase, withClient } from './fixture.js';

/** A login user made with plain SQL (as pgsteward's users will be), member of one group role. */
async function loginUser(db: AdminDatabase, name: string, group: string) {
  const password = randomBytes(18).toString('base64url');
  await db.superQuery(`CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD ${quoteLiteral(password)}`);
  await db.superQuery(`GRANT ${quoteIdent(group)} TO ${quoteIdent(name)}`);
  return { name, password };
}

/** Run `sql` as a login; the SQLSTATE it failed with, or 'ok'. */
async function as(db: AdminDatabase, user: { name: string; password: string }, ...sql: string[]): Promise<string> {
  return withClient(db.cluster.clientConfig(db.name, user.name, user.password), async (c: pg.Client) => {
    try {
      for (const s of sql) await c.query(s);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  });
}

/** Everything role work could change on the server, as one comparable text. */
async function serverFingerprint(db: AdminDatabase): Promise<string> {
  const rows = await db.superQuery<{ f: string }>(`
    SELECT concat_ws(' | ',
      (SELECT string_agg(rolname || ':' || rolcanlogin || coalesce(shobj_description(oid, 'pg_authid'), ''), ',' ORDER BY rolname) FROM pg_roles),
      (SELECT string_agg(roleid || '>' || member, ',' ORDER BY roleid, member) FROM pg_auth_members),
      (SELECT string_agg(c.relname || ':' || c.relowner || ':' || coalesce(c.relacl::text, ''), ',' ORDER BY c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'),
      (SELECT string_agg(nspname || ':' || coalesce(nspacl::text, ''), ',' ORDER BY oid) FROM pg_namespace),
      (SELECT string_agg(defaclacl::text, ',' ORDER BY oid) FROM pg_default_acl),
      (SELECT datacl::text FROM pg_database WHERE datname = current_database())) AS f`);
  return rows[0]?.f ?? '';
}

export async function roleSetSuite(t: Test, test: TestApp, cluster: TestCluster): Promise<void> {
  const { app, writeSecrets, token, seedTenants } = test;
  await seedTenants('acme', 'umbrella');
  const db = await createAdminDatabase(t, cluster);
  writeSecrets({ 'acme/main': adminSecret(db), 'acme/admin': adminSecret(db) });
  const acme = token('acme', ['targets:write', 'targets:read', 'roles:read', 'roles:write']);
  const umbrella = token('umbrella', ['targets:read', 'roles:read', 'roles:write']);
  const created = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: { name: 'main', secretRef: 'file:acme/main', adminSecretRef: 'file:acme/admin' },
  });
  t.equal(created.statusCode, 201, created.body);
  const targetId = created.json().id as string;
  const set = `s${db.suffix}`;
  const ro = `${set}_readonly`;
  const rw = `${set}_readwrite`;
  const mig = `${set}_migrations`;
  const url = (name = set) => `/v1/targets/${targetId}/role-sets/${name}`;
  const put = (payload: Record<string, unknown> = {}, query = '', as = acme, name = set) =>
    app.inject({ method: 'PUT', url: `${url(name)}${query}`, headers: bearer(as), payload });
  const roleExists = async (name: string) =>
    (await db.superQuery('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length === 1;

  await t.test('a dry run answers the exact statements and changes nothing', async (t) => {
    const before = await serverFingerprint(db);
    const res = await put({}, '?dryRun=true');
    t.equal(res.statusCode, 200, res.body);
    const body = res.json();
    t.equal(body.dryRun, true);
    t.equal(body.changed, true);
    t.same(body.roleNames, [ro, rw, mig]);
    t.ok(
      body.statements.includes(
        `CREATE ROLE "${ro}" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
      ),
    );
    t.ok(
      body.statements.includes(`ALTER TABLE "public"."accounts" OWNER TO "${mig}"`),
      'the plan lists each owner change',
    );
    t.ok(body.statements.includes(`ALTER VIEW "public"."account_emails" OWNER TO "${mig}"`));
    t.ok(
      body.statements.includes(
        `ALTER DEFAULT PRIVILEGES FOR ROLE "${mig}" IN SCHEMA "public" GRANT SELECT ON TABLES TO "${ro}"`,
      ),
      'default privileges FOR ROLE the migrations role',
    );
    t.notOk(
      body.statements.some((s: string) => /TRUNCATE|SUPERUSER(?! )|CREATEDB(?! )/.test(s.replace(/NO[A-Z]+/g, ''))),
    );
    t.same(body.drift.missingRoles, [ro, rw, mig]);
    if (cluster.major >= 16) t.equal(body.statements[0], `SET LOCAL createrole_self_grant = 'set, inherit'`);
    else t.ok(body.statements.includes(`GRANT "${mig}" TO "${db.admin.role}"`), 'before 16, membership is granted');
    t.equal(await serverFingerprint(db), before, 'no change on the server');
    const get = await app.inject({ url: url(), headers: bearer(acme) });
    t.equal(get.statusCode, 404, 'a dry run records nothing');
    t.equal(get.json().code, 'PGS_ROLE_SET_NOT_FOUND');
  });

  await t.test('apply creates three NOLOGIN roles with the marker; a second apply changes nothing', async (t) => {
    const res = await put({});
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.json().changed, true);
    const roles = await db.superQuery<Record<string, unknown>>(
      `SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,
              shobj_description(oid, 'pg_authid') AS comment
         FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
      [[ro, rw, mig]],
    );
    t.equal(roles.length, 3);
    for (const r of roles) {
      t.match(r, {
        rolcanlogin: false,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
      });
      t.equal(r.comment, `pgsteward:managed tenant=acme target=${targetId} owner=role-set:${set}`);
    }
    const owner = await db.superQuery<{ o: string }>(
      `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname = 'accounts'`,
    );
    t.equal(owner[0]?.o, mig, 'existing tables go to the migrations role');
    const again = await put({});
    t.equal(again.statusCode, 200);
    t.equal(again.json().changed, false, 'no changes');
    t.same(again.json().statements, []);
    t.equal(again.json().drift.inSync, true);
    const got = await app.inject({ url: url(), headers: bearer(acme) });
    t.equal(got.statusCode, 200);
    t.match(got.json(), {
      name: set,
      database: db.name,
      schemas: ['public'],
      roles: ['readonly', 'readwrite', 'migrations'],
    });
    t.equal(got.json().drift.inSync, true, JSON.stringify(got.json().drift));
  });

  const users = {} as Record<'ro' | 'rw' | 'mig', { name: string; password: string }>;
  await t.test('login users are made members with plain SQL', async (t) => {
    users.ro = await loginUser(db, `u_ro_${db.suffix}`, ro);
    users.rw = await loginUser(db, `u_rw_${db.suffix}`, rw);
    users.mig = await loginUser(db, `u_mig_${db.suffix}`, mig);
    t.pass('made');
  });

  await t.test('the admin role can grant the set roles to others (ADMIN OPTION from 16 on)', async (t) => {
    if (cluster.major >= 16) {
      const self = await db.superQuery<{ admin_option: boolean; inherit_option: boolean; set_option: boolean }>(
        `SELECT bool_or(admin_option) AS admin_option, bool_or(inherit_option) AS inherit_option, bool_or(set_option) AS set_option
           FROM pg_auth_members WHERE roleid = $1::regrole AND member = $2::regrole`,
        [quoteIdent(mig), quoteIdent(db.admin.role)],
      );
      t.same(
        self,
        [{ admin_option: true, inherit_option: true, set_option: true }],
        'createrole_self_grant made it usable',
      );
    }
    const probe = `p_${db.suffix}`;
    t.equal(
      await as(
        db,
        { name: db.admin.role, password: db.admin.password },
        `CREATE ROLE ${quoteIdent(probe)} NOLOGIN`,
        `GRANT ${quoteIdent(ro)} TO ${quoteIdent(probe)}`,
        `DROP ROLE ${quoteIdent(probe)}`,
      ),
      'ok',
    );
  });

  await t.test('readonly reads and cannot write', async (t) => {
    t.equal(
      await as(db, users.ro, 'SELECT count(*) FROM public.accounts', 'SELECT * FROM public.account_emails'),
      'ok',
    );
    t.equal(await as(db, users.ro, "INSERT INTO public.accounts (email) VALUES ('x')"), '42501');
    t.equal(await as(db, users.ro, 'DELETE FROM public.accounts'), '42501');
  });

  await t.test('readwrite reads and writes, and cannot DROP, ALTER, TRUNCATE or CREATE TABLE', async (t) => {
    t.equal(
      await as(
        db,
        users.rw,
        "INSERT INTO public.accounts (email) VALUES ('rw@example.com')",
        "UPDATE public.accounts SET email = 'rw2@example.com' WHERE email = 'rw@example.com'",
        "DELETE FROM public.accounts WHERE email = 'rw2@example.com'",
      ),
      'ok',
    );
    t.equal(await as(db, users.rw, 'DROP TABLE public.accounts'), '42501');
    t.equal(await as(db, users.rw, 'ALTER TABLE public.accounts ADD COLUMN x int'), '42501');
    t.equal(await as(db, users.rw, 'TRUNCATE public.accounts'), '42501');
    t.equal(await as(db, users.rw, 'CREATE TABLE public.mine (id int)'), '42501');
  });

  await t.test(
    'a table the migrations role creates later is readable by readonly and writable by readwrite',
    async (t) => {
      t.equal(
        await as(
          db,
          users.mig,
          `SET ROLE ${quoteIdent(mig)}`,
          'CREATE TABLE public.later (id bigserial PRIMARY KEY, note text)',
          "INSERT INTO public.later (note) VALUES ('first')",
        ),
        'ok',
      );
      t.equal(await as(db, users.ro, 'SELECT note FROM public.later'), 'ok', 'readonly reads it with no further call');
      t.equal(await as(db, users.ro, "INSERT INTO public.later (note) VALUES ('no')"), '42501');
      t.equal(
        await as(
          db,
          users.rw,
          "INSERT INTO public.later (note) VALUES ('rw')",
          "UPDATE public.later SET note = 'rw!'",
          'DELETE FROM public.later',
        ),
        'ok',
        'readwrite writes it, sequence included',
      );
      const got = await app.inject({ url: url(), headers: bearer(acme) });
      t.equal(got.json().drift.inSync, true, 'a table made by the migrations role is no drift');
    },
  );

  await t.test('a grant added by hand shows as drift, and applying again removes it', async (t) => {
    await db.superQuery(`GRANT DELETE ON public.accounts TO ${quoteIdent(ro)}`);
    // Made by a deploy running as the admin role: unreadable for readonly until the set is applied again.
    await withClient(cluster.clientConfig(db.name, db.admin.role, db.admin.password), (c) =>
      c.query('CREATE TABLE public.by_hand (id int)'),
    );
    const got = await app.inject({ url: url(), headers: bearer(acme) });
    t.equal(got.statusCode, 200);
    const drift = got.json().drift;
    t.equal(drift.inSync, false);
    t.same(drift.extraGrants, [{ role: ro, on: 'table', object: 'public.accounts', privileges: ['DELETE'] }]);
    t.match(drift.missingGrants, [{ role: ro, on: 'table', object: 'public.by_hand', privileges: ['SELECT'] }]);
    t.match(drift.notOwned, [{ kind: 'table', object: 'public.by_hand' }]);
    t.equal(await as(db, users.ro, "DELETE FROM public.accounts WHERE email = 'none'"), 'ok');

    const fixed = await put({});
    t.equal(fixed.statusCode, 200, fixed.body);
    t.ok(fixed.json().statements.includes(`REVOKE DELETE ON TABLE "public"."accounts" FROM "${ro}"`));
    t.equal(await as(db, users.ro, "DELETE FROM public.accounts WHERE email = 'none'"), '42501', 'the grant is gone');
    t.equal(await as(db, users.ro, 'SELECT * FROM public.by_hand'), 'ok');
    const after = await app.inject({ url: url(), headers: bearer(acme) });
    t.equal(after.json().drift.inSync, true, JSON.stringify(after.json().drift));
  });

  await t.test('a change the server refuses part of applies none of it (422)', async (t) => {
    await db.superQuery('CREATE TABLE public.superuser_owned (id int)'); // the admin cannot take it over
    // Drift whose fix (GRANT CONNECT) runs before the refused owner change in the same transaction.
    await db.superQuery(`REVOKE CONNECT ON DATABASE ${quoteIdent(db.name)} FROM ${quoteIdent(ro)}`);
    await db.superQuery(`GRANT TRUNCATE ON public.accounts TO ${quoteIdent(rw)}`);
    const before = await serverFingerprint(db);
    const res = await put({});
    t.equal(res.statusCode, 422, res.body);
    t.equal(res.json().code, 'PGS_ROLE_CHANGE_REFUSED');
    t.match(res.json().detail, /superuser_owned/);
    t.ok(res.json().detail.length > 0);
    t.equal(await serverFingerprint(db), before, 'the GRANT CONNECT that ran before it was rolled back too');
    await db.superQuery('DROP TABLE public.superuser_owned');
    const fixed = await put({});
    t.equal(fixed.statusCode, 200, fixed.body);
    t.equal(await as(db, users.rw, 'TRUNCATE public.accounts'), '42501');
  });

  await t.test('the list shows the set with its drift and members', async (t) => {
    const res = await app.inject({ url: `/v1/targets/${targetId}/role-sets`, headers: bearer(acme) });
    t.equal(res.statusCode, 200, res.body);
    t.equal(res.json().items.length, 1);
    t.match(res.json().items[0].drift.members, [
      { role: mig, member: users.mig.name, login: true },
      { role: ro, member: users.ro.name, login: true },
      { role: rw, member: users.rw.name, login: true },
    ]);
  });

  await t.test('the inventory lists roles with attributes, memberships and which are managed', async (t) => {
    const seen: Record<string, unknown>[] = [];
    const page = async (cursor: string | null) => {
      const res = await app.inject({
        url: `/v1/targets/${targetId}/roles?limit=5${cursor ? `&cursor=${cursor}` : ''}`,
        headers: bearer(acme),
      });
      t.equal(res.statusCode, 200, res.body);
      return res.json() as { items: Record<string, unknown>[]; nextCursor: string | null };
    };
    for (let cursor: string | null = null, pages = 0; pages === 0 || cursor !== null; pages++) {
      const next = await page(cursor);
      seen.push(...next.items);
      cursor = next.nextCursor;
    }
    const byName = new Map(seen.map((r) => [r.name, r]));
    t.match(byName.get(ro), { login: false, managed: true, managedBy: `role-set:${set}` });
    t.match(byName.get(users.ro.name), { login: true, managed: false, memberOf: [ro] });
    t.match(byName.get(db.admin.role), { createRole: true, superuser: false, managed: false });
    t.match(byName.get('postgres'), { superuser: true });
    t.notOk(
      seen.some((r) => String(r.name).startsWith('pg_')),
      'no predefined roles',
    );
  });

  await t.test('delete refuses with 409 naming the member login users', async (t) => {
    const res = await app.inject({ method: 'DELETE', url: url(), headers: bearer(acme) });
    t.equal(res.statusCode, 409, res.body);
    t.equal(res.json().code, 'PGS_ROLE_SET_HAS_MEMBERS');
    for (const u of Object.values(users)) t.match(res.body, u.name);
    t.match(res.json().members, [
      { role: mig, member: users.mig.name, login: true },
      { role: ro, member: users.ro.name, login: true },
      { role: rw, member: users.rw.name, login: true },
    ]);
    t.match(res.json().members, [
      { role: mig, member: users.mig.name, login: true },
      { role: ro, member: users.ro.name, login: true },
      { role: rw, member: users.rw.name, login: true },
    ]);
    t.ok(await roleExists(ro), 'nothing dropped');
  });

  await t.test('tenancy: another tenant gets 404 for every role operation', async (t) => {
    const before = await serverFingerprint(db);
    for (const req of [
      { method: 'GET' as const, url: url() },
      { method: 'GET' as const, url: `/v1/targets/${targetId}/role-sets` },
      { method: 'GET' as const, url: `/v1/targets/${targetId}/roles` },
      { method: 'PUT' as const, url: url(), payload: {} },
      { method: 'PUT' as const, url: `${url()}?dryRun=true`, payload: {} },
      { method: 'DELETE' as const, url: url() },
    ]) {
      const res = await app.inject({ ...req, headers: bearer(umbrella) });
      t.equal(res.statusCode, 404, `${req.method} ${req.url}`);
      t.equal(res.json().code, 'PGS_TARGET_NOT_FOUND');
    }
    t.equal(await serverFingerprint(db), before);
  });

  await t.test('hostile names and inputs answer 400 and change nothing on the server', async (t) => {
    const before = await serverFingerprint(db);
    const names = [
      'x";DROP ROLE postgres;--',
      "x'",
      'x;',
      'Upper',
      'pg_x',
      'postgres',
      'rdsadmin',
      encodeURIComponent('аpp'),
      encodeURIComponent('a b'),
      'public',
      'a'.repeat(53),
      encodeURIComponent(db.admin.role),
    ];
    for (const name of names) {
      const res = await put({}, '', acme, name);
      t.equal(res.statusCode, 400, `${name}: ${res.body}`);
      t.equal(res.json().code, 'PGS_ROLE_NAME_INVALID', name);
    }
    for (const [payload, code] of [
      [{ schemas: [] }, 'PGS_VALIDATION'],
      [{ schemas: ['nope'] }, 'PGS_SCHEMA_NOT_FOUND'],
      [{ schemas: ['public"; DROP TABLE accounts; --'] }, 'PGS_SCHEMA_NOT_FOUND'],
      [{ schemas: ['pg_catalog'] }, 'PGS_VALIDATION'],
      [{ roles: ['superuser'] }, 'PGS_VALIDATION'],
      [{ database: 'no_such_database' }, 'PGS_DATABASE_NOT_FOUND'],
    ] as const) {
      const res = await put(payload, '', acme, 'hostile');
      t.equal(res.statusCode, 400, `${JSON.stringify(payload)}: ${res.body}`);
      t.equal(res.json().code, code, JSON.stringify(payload));
    }
    t.equal(await serverFingerprint(db), before, 'the server is unchanged');
    const list = await app.inject({ url: `/v1/targets/${targetId}/role-sets`, headers: bearer(acme) });
    t.equal(list.json().items.length, 1, 'nothing recorded');
  });

  await t.test('a role pgsteward did not create is never touched', async (t) => {
    const other = `o${db.suffix}`;
    await db.superQuery(`CREATE ROLE ${quoteIdent(`${other}_readonly`)} NOLOGIN`);
    const before = await serverFingerprint(db);
    const res = await put({}, '', acme, other);
    t.equal(res.statusCode, 409, res.body);
    t.equal(res.json().code, 'PGS_ROLE_NOT_MANAGED');
    t.equal(await serverFingerprint(db), before, 'nothing changed');
    const dry = await put({}, '?dryRun=true', acme, other);
    t.equal(dry.json().code, 'PGS_ROLE_NOT_MANAGED', 'the dry run says so too');
  });

  await t.test('after the users go, delete drops the roles and keeps the tables', async (t) => {
    for (const u of Object.values(users)) await db.superQuery(`DROP ROLE ${quoteIdent(u.name)}`);
    const res = await app.inject({ method: 'DELETE', url: url(), headers: bearer(acme) });
    t.equal(res.statusCode, 204, res.body);
    for (const r of [ro, rw, mig]) t.notOk(await roleExists(r), `${r} dropped`);
    const owners = await db.superQuery<{ relname: string; o: string }>(
      `SELECT relname, pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname IN ('accounts', 'later') ORDER BY 1`,
    );
    t.same(
      owners,
      [
        { relname: 'accounts', o: db.admin.role },
        { relname: 'later', o: db.admin.role },
      ],
      'tables go back to the admin role',
    );
    const gone = await app.inject({ url: url(), headers: bearer(acme) });
    t.equal(gone.statusCode, 404);
  });

  await t.test('only the declared roles, and a set re-declared with fewer roles drops the rest', async (t) => {
    const res = await put({ roles: ['readonly'] });
    t.equal(res.statusCode, 200, res.body);
    t.same(res.json().roleNames, [ro]);
    t.ok(await roleExists(ro));
    t.notOk(await roleExists(mig));
    const both = await put({ roles: ['readonly', 'readwrite'] });
    t.equal(both.statusCode, 200, both.body);
    t.ok(await roleExists(rw));
    const fewer = await put({ roles: ['readwrite'] });
    t.equal(fewer.statusCode, 200, fewer.body);
    t.notOk(await roleExists(ro), 'readonly dropped');
    t.ok(await roleExists(rw));
    const del = await app.inject({ method: 'DELETE', url: url(), headers: bearer(acme) });
    t.equal(del.statusCode, 204);
  });

  await t.test('every mutation is audited', async (t) => {
    const rows = await test.db.ownerQuery<{ action: string; resource: string; outcome: string }>(
      `SELECT action, resource, outcome FROM audit_events WHERE tenant_id = 'acme' AND resource LIKE '%role-sets%'`,
    );
    t.ok(
      rows.some(
        (r) =>
          r.action === 'applyRoleSet' &&
          r.resource === `targets/${targetId}/role-sets/${set}` &&
          r.outcome === 'success',
      ),
    );
    t.ok(
      rows.some((r) => r.action === 'deleteRoleSet' && r.outcome === 'failure'),
      'the refused delete too',
    );
    t.ok(rows.some((r) => r.action === 'deleteRoleSet' && r.outcome === 'success'));
  });

  await t.test('without an adminSecretRef, role operations answer 409 PGS_ADMIN_SECRET_REQUIRED', async (t) => {
    const plain = await app.inject({
      method: 'POST',
      url: '/v1/targets',
      headers: bearer(acme),
      payload: { name: 'plain', secretRef: 'file:acme/main' },
    });
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/targets/${plain.json().id}/role-sets/${set}`,
      headers: bearer(acme),
      payload: {},
    });
    t.equal(res.statusCode, 409);
    t.equal(res.json().code, 'PGS_ADMIN_SECRET_REQUIRED');
  });
}
