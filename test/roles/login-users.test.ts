// Issue 9 §3-4 through the REST API, against the harness's PostgreSQL 15 with the file secrets provider:
// create, read, rotate (both strategies), delete, crash-safe ordering, tenancy and bad input.
import t from 'tap';
import { rotationTestHooks } from '../../src/domain/roles/users/rotate-task.js';
import { JobFailure } from '../../src/jobs/types.js';
import { AWSCURRENT, AWSPREVIOUS } from '../../src/secrets/secret-writer.js';
import { quoteIdent } from '../../src/sql/identifiers.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { login, logsIn, USER_SCOPES, userTarget } from './users-fixture.js';

const test = await buildTestApp(t, {}, { worker: true });
const { app, services, seedTenants, token } = test;
await seedTenants('acme', 'umbrella');
const setup = await userTarget(t, test);
const { admin, targetId, roleSet, suffix } = setup;
const acme = setup.token;
const users = `/v1/targets/${targetId}/users`;

const post = (payload: Record<string, unknown>, as = acme) =>
  app.inject({ method: 'POST', url: users, headers: bearer(as), payload });
const secretOf = async (ref: string, stage = AWSCURRENT) =>
  (await services.secrets.getSecretValue(ref, { stage })).value;
const rotate = async (name: string) => {
  const res = await app.inject({ method: 'POST', url: `${users}/${name}/rotate`, headers: bearer(acme) });
  t.equal(res.statusCode, 202, res.body);
  return waitForJob(app, acme, res.json().id);
};
const roleRow = async (name: string) =>
  (
    await admin.superQuery(
      `SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolconnlimit,
              shobj_description(oid, 'pg_authid') AS comment,
              ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid)::text[] AS groups
         FROM pg_roles r WHERE rolname = $1`,
      [name],
    )
  )[0];

t.test(
  'create: the password is in the secret (RDS shape), never in the answer; the role is a plain login',
  async (t) => {
    const name = `svc_${suffix}`;
    const ref = `file:acme/users/${name}`;
    const res = await post({ name, roleSet, access: 'readwrite', secretRef: ref, connectionLimit: 5 });
    t.equal(res.statusCode, 201, res.body);
    const secret = await secretOf(ref);
    t.same(Object.getOwnPropertyNames(secret).sort(), ['dbname', 'engine', 'host', 'password', 'port', 'username']);
    t.match(secret, { engine: 'postgres', username: name, dbname: admin.name, port: admin.cluster.port });
    const password = String(secret.password);
    t.ok(password.length >= 32);
    t.notMatch(res.body, password, 'the answer has no password');
    t.match(res.json(), {
      name,
      roleSet,
      access: 'readwrite',
      secretRef: ref,
      strategy: 'alternating',
      state: 'active',
      activeUsername: name,
      connectionLimit: 5,
    });
    t.ok(res.json().lastRotatedAt);
    t.equal(res.json().nextRotationAt, null, 'no rotation schedule asked');

    const [role, clone] = [await roleRow(name), await roleRow(`${name}_clone`)];
    for (const r of [role, clone]) {
      t.match(r, {
        rolcanlogin: true,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
        rolconnlimit: 5,
        groups: [`${roleSet}_readwrite`],
      });
      t.match(r?.comment, /^pgsteward:managed tenant=acme /);
    }
    const session = await login(admin, name, password);
    t.teardown(() => session.end());
    await session.query("INSERT INTO accounts (email) VALUES ('c@example.com')");
    await t.rejects(session.query('DROP TABLE accounts'), { code: '42501' }, 'readwrite cannot drop');
    const pgauth = await admin.superQuery<{ v: string }>('SELECT rolpassword AS v FROM pg_authid WHERE rolname = $1', [
      name,
    ]);
    t.match(pgauth[0]?.v, /^SCRAM-SHA-256\$4096:/, 'the server holds a verifier');

    const got = await app.inject({ url: `${users}/${name}`, headers: bearer(acme) });
    t.equal(got.statusCode, 200);
    t.same(got.json(), res.json());
    const list = await app.inject({ url: `${users}?limit=1`, headers: bearer(acme) });
    t.equal(list.json().items[0].name, name);
    const stored = await test.db.ownerQuery('SELECT * FROM role_users WHERE name = $1', [name]);
    t.notMatch(JSON.stringify(stored), password, 'the metadata holds no password');
  },
);

t.test('single: after a rotation old sessions stay, the new password logs in, the old one fails', async (t) => {
  const name = `single_${suffix}`;
  const ref = `file:acme/users/${name}`;
  t.equal((await post({ name, roleSet, access: 'readonly', secretRef: ref, strategy: 'single' })).statusCode, 201);
  const before = String((await secretOf(ref)).password);
  const session = await login(admin, name, before);
  t.teardown(() => session.end());
  const job = await rotate(name);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.notMatch(JSON.stringify(job), before);
  const after = await secretOf(ref);
  t.equal(after.username, name);
  t.ok(await logsIn(admin, name, String(after.password)), 'the new password logs in');
  t.notOk(await logsIn(admin, name, before), 'the old password fails');
  t.same((await session.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the open session is still up');
  await t.rejects(session.query("INSERT INTO accounts (email) VALUES ('x')"), { code: '42501' }, 'readonly');
  const user = (await app.inject({ url: `${users}/${name}`, headers: bearer(acme) })).json();
  t.equal(user.activeUsername, name);
});

t.test('alternating: the previous credentials work until the next rotation', async (t) => {
  const name = `alt_${suffix}`;
  const ref = `file:acme/users/${name}`;
  t.equal((await post({ name, roleSet, access: 'readonly', secretRef: ref })).statusCode, 201);
  const original = await secretOf(ref);
  const session = await login(admin, name, String(original.password));
  t.teardown(() => session.end());

  t.equal((await rotate(name)).status, 'succeeded');
  const first = await secretOf(ref);
  t.equal(first.username, `${name}_clone`, 'AWSCURRENT names the clone');
  t.ok(await logsIn(admin, String(first.username), String(first.password)), 'new credentials log in');
  t.ok(await logsIn(admin, name, String(original.password)), 'the previous ones still do');
  t.same((await secretOf(ref, AWSPREVIOUS)).username, name);
  t.same((await session.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  t.equal(
    (await app.inject({ url: `${users}/${name}`, headers: bearer(acme) })).json().activeUsername,
    `${name}_clone`,
  );

  t.equal((await rotate(name)).status, 'succeeded');
  const second = await secretOf(ref);
  t.equal(second.username, name);
  t.ok(await logsIn(admin, name, String(second.password)));
  t.ok(await logsIn(admin, `${name}_clone`, String(first.password)), 'the first rotation’s credentials still work');
  t.notOk(await logsIn(admin, name, String(original.password)), 'the original stopped at the second rotation');
});

t.test('a rotation whose worker dies after setSecret is retried and ends with a working AWSCURRENT', async (t) => {
  const name = `crash_${suffix}`;
  const ref = `file:acme/users/${name}`;
  t.equal((await post({ name, roleSet, access: 'readonly', secretRef: ref })).statusCode, 201);
  let killed = 0;
  rotationTestHooks.afterStep = (step) => {
    if (step === 'setSecret' && killed++ === 0) throw new JobFailure('TEST_KILLED', 'killed', { retryable: true });
  };
  t.teardown(() => {
    rotationTestHooks.afterStep = undefined;
  });
  const job = await rotate(name);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.equal(killed, 2, 'the first attempt died, the second ran through');
  const current = await secretOf(ref);
  t.ok(await logsIn(admin, String(current.username), String(current.password)));
  const versions = (await services.secrets.describeSecret(ref)).versions;
  t.same(versions[job.id], [AWSCURRENT], 'one version, named by the job id');
});

t.test('never two rotations of one user at once: the second answers 409 PGS_ROTATION_RUNNING', async (t) => {
  const name = `twice_${suffix}`;
  t.equal((await post({ name, roleSet, access: 'readonly', secretRef: `file:acme/users/${name}` })).statusCode, 201);
  // Enqueued straight into the table as a queued job, so the worker cannot finish it in between.
  const row = (await test.db.ownerQuery<{ id: string }>('SELECT id FROM role_users WHERE name = $1', [name]))[0];
  await test.db.ownerQuery(
    `INSERT INTO jobs (tenant_id, target_id, kind, payload, subjects, max_attempts, run_at)
     VALUES ('acme', $1, 'role.rotate', $2, $3, 5, now() + interval '1 hour')`,
    [targetId, { userId: row?.id, trigger: 'api' }, { loginUser: row?.id }],
  );
  const res = await app.inject({ method: 'POST', url: `${users}/${name}/rotate`, headers: bearer(acme) });
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, 'PGS_ROTATION_RUNNING');
  await t.rejects(
    test.db.ownerQuery(
      `INSERT INTO jobs (tenant_id, target_id, kind, payload, subjects, max_attempts)
       VALUES ('acme', $1, 'role.rotate', '{}', $2, 5)`,
      [targetId, { loginUser: row?.id }],
    ),
    { code: '23505' },
    'the unique index refuses a second one whoever enqueues it',
  );
  await test.db.ownerQuery("DELETE FROM jobs WHERE kind = 'role.rotate' AND subjects ->> 'loginUser' = $1", [row?.id]);
});

t.test('a create interrupted between any two steps converges: a repeat finishes it, a delete undoes it', async (t) => {
  const { createLoginUserWith } = await import('../../src/domain/roles/users/create.js');
  const { ctxFor } = await import('./users-ctx.js');
  const ctx = ctxFor(test, 'acme', [...USER_SCOPES]);
  for (const step of ['recorded', 'secretWritten', 'rolesCreated'] as const) {
    for (const then of ['repeat', 'delete'] as const) {
      const name = `cr_${step.slice(0, 3).toLowerCase()}_${then.slice(0, 3)}_${suffix}`;
      const ref = `file:acme/users/${name}`;
      const input = { name, roleSet, access: 'readonly' as const, secretRef: ref };
      await t.rejects(
        createLoginUserWith(ctx, targetId, input, {
          afterStep: (s) => {
            if (s === step) throw new Error(`crash after ${s}`);
          },
        }),
        { message: `crash after ${step}` },
      );
      if (then === 'repeat') {
        const res = await post(input);
        t.equal(res.statusCode, 201, `${step}: the repeat finishes the create`);
        const secret = await secretOf(ref);
        t.ok(await logsIn(admin, name, String(secret.password)), `${step}: the secret's password logs in`);
        t.equal(res.json().state, 'active');
      } else {
        const res = await app.inject({ method: 'DELETE', url: `${users}/${name}`, headers: bearer(acme) });
        t.equal(res.statusCode, 204, `${step}: delete ${res.body}`);
        t.equal(await roleRow(name), undefined, `${step}: no role`);
        await t.rejects(secretOf(ref), { code: 'PGS_SECRET_NOT_FOUND' }, `${step}: no secret`);
      }
    }
  }
  const differs = await post({ name: `cr_rec_rep_${suffix}`, roleSet, access: 'readwrite', secretRef: 'file:acme/x' });
  t.equal(differs.statusCode, 409, 'an existing user with another body is a conflict');
  t.equal(differs.json().code, 'PGS_LOGIN_USER_EXISTS');
});

t.test('delete: 409 listing owned objects, reassignTo hands them over; sessions ended on request', async (t) => {
  const name = `owner_${suffix}`;
  const ref = `file:acme/users/${name}`;
  t.equal((await post({ name, roleSet, access: 'readwrite', secretRef: ref, strategy: 'single' })).statusCode, 201);
  await admin.superQuery(`CREATE TABLE public.${quoteIdent(`owned_${suffix}`)} (id int)`);
  await admin.superQuery(`ALTER TABLE public.${quoteIdent(`owned_${suffix}`)} OWNER TO ${quoteIdent(name)}`);
  const refused = await app.inject({ method: 'DELETE', url: `${users}/${name}`, headers: bearer(acme) });
  t.equal(refused.statusCode, 409);
  t.equal(refused.json().code, 'PGS_LOGIN_USER_OWNS_OBJECTS');
  t.same(refused.json().ownedObjects, [`relation owned_${suffix}`]);
  t.ok(await roleRow(name), 'nothing was dropped');

  const session = await login(admin, name, String((await secretOf(ref)).password));
  const ended = new Promise((resolve) => {
    session.on('error', resolve);
    setTimeout(() => resolve('timeout'), 10_000).unref();
  });
  const res = await app.inject({
    method: 'DELETE',
    url: `${users}/${name}?terminateSessions=true&reassignTo=${roleSet}_readwrite`,
    headers: bearer(acme),
  });
  t.equal(res.statusCode, 204, res.body);
  t.equal(await roleRow(name), undefined, 'the role is gone');
  const owner = await admin.superQuery<{ o: string }>(
    `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE relname = $1`,
    [`owned_${suffix}`],
  );
  t.equal(owner[0]?.o, `${roleSet}_readwrite`, 'the table was handed over');
  t.not(await ended, 'timeout', 'the open session was terminated');
  await session.end().catch(() => {});
  await t.rejects(secretOf(ref), { code: 'PGS_SECRET_NOT_FOUND' }, 'the file secret is removed');
  t.equal((await app.inject({ url: `${users}/${name}`, headers: bearer(acme) })).statusCode, 404);
});

t.test("another tenant's target and users answer 404, in every operation", async (t) => {
  const name = `mine_${suffix}`;
  t.equal((await post({ name, roleSet, access: 'readonly', secretRef: `file:acme/users/${name}` })).statusCode, 201);
  const umbrella = token('umbrella', [...USER_SCOPES]);
  const calls = [
    { method: 'GET' as const, url: users },
    { method: 'GET' as const, url: `${users}/${name}` },
    { method: 'POST' as const, url: `${users}/${name}/rotate` },
    { method: 'DELETE' as const, url: `${users}/${name}` },
    {
      method: 'POST' as const,
      url: users,
      payload: { name: 'x_thief', roleSet, access: 'readonly', secretRef: 'file:umbrella/x' },
    },
  ];
  for (const call of calls) {
    const res = await app.inject({ ...call, headers: bearer(umbrella) });
    t.equal(res.statusCode, 404, `${call.method} ${call.url}`);
  }
  t.ok(await roleRow(name), 'untouched');
});

t.test('bad input answers 4xx with a stable code and changes nothing', async (t) => {
  const before = await admin.superQuery("SELECT rolname FROM pg_roles WHERE rolname LIKE '%' || $1 || '%' ORDER BY 1", [
    suffix,
  ]);
  const cases: [Record<string, unknown>, number, string][] = [
    [{ name: 'bad"name', roleSet, access: 'readonly', secretRef: 'file:acme/b1' }, 400, 'PGS_ROLE_NAME_INVALID'],
    [{ name: 'x; DROP ROLE y', roleSet, access: 'readonly', secretRef: 'file:acme/b2' }, 400, 'PGS_ROLE_NAME_INVALID'],
    [{ name: 'pg_evil', roleSet, access: 'readonly', secretRef: 'file:acme/b3' }, 400, 'PGS_ROLE_NAME_INVALID'],
    [{ name: 'rdsadmin2', roleSet, access: 'readonly', secretRef: 'file:acme/b4' }, 400, 'PGS_ROLE_NAME_INVALID'],
    [{ name: 'postgres', roleSet, access: 'readonly', secretRef: 'file:acme/b5' }, 400, 'PGS_ROLE_NAME_INVALID'],
    [{ name: 'аdmin', roleSet, access: 'readonly', secretRef: 'file:acme/b6' }, 400, 'PGS_ROLE_NAME_INVALID'],
    [{ name: 'a'.repeat(60), roleSet, access: 'readonly', secretRef: 'file:acme/b7' }, 400, 'PGS_ROLE_NAME_INVALID'],
    [{ name: 'okname', roleSet: 'nope', access: 'readonly', secretRef: 'file:acme/b8' }, 404, 'PGS_ROLE_SET_NOT_FOUND'],
    [{ name: 'okname', roleSet, access: 'migrations', secretRef: 'file:acme/b9' }, 404, 'PGS_ROLE_SET_NOT_FOUND'],
    [{ name: 'okname', roleSet, access: 'readonly', secretRef: 'nope' }, 400, 'PGS_SECRET_REF_INVALID'],
    [{ name: 'okname', roleSet, access: 'readonly', secretRef: 'file:umbrella/x' }, 422, 'PGS_SECRET_NOT_FOUND'],
    [{ name: admin.admin.role, roleSet, access: 'readonly', secretRef: 'file:acme/b10' }, 400, 'PGS_ROLE_NAME_INVALID'],
  ];
  for (const [payload, status, code] of cases) {
    const res = await post(payload);
    t.equal(res.statusCode, status, `${JSON.stringify(payload.name)}: ${res.body}`);
    t.equal(res.json().code, code);
  }
  // A role of the same name that pgsteward did not create is never touched.
  await admin.superQuery(`CREATE ROLE ${quoteIdent(`theirs_${suffix}`)} LOGIN`);
  const taken = await post({ name: `theirs_${suffix}`, roleSet, access: 'readonly', secretRef: 'file:acme/b11' });
  t.equal(taken.statusCode, 409);
  t.equal(taken.json().code, 'PGS_ROLE_NOT_MANAGED');
  await t.rejects(secretOf('file:acme/b11'), { code: 'PGS_SECRET_NOT_FOUND' }, 'no secret written');
  t.equal((await app.inject({ url: `${users}/theirs_${suffix}`, headers: bearer(acme) })).statusCode, 404, 'no row');
  const after = await admin.superQuery("SELECT rolname FROM pg_roles WHERE rolname LIKE '%' || $1 || '%' ORDER BY 1", [
    suffix,
  ]);
  t.same(after.length, before.length + 1, 'only the test’s own role was added');
  const hostile = cases.map(([payload]) => String(payload.name));
  t.same(
    await admin.superQuery(
      'SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) AND rolname <> ALL($2::text[])',
      [hostile, ['postgres', admin.admin.role]],
    ),
    [],
    'no hostile name became a role',
  );
  const taken409 = await post({ name: `dup_${suffix}`, roleSet, access: 'readonly', secretRef: 'file:acme/b11' });
  t.equal(taken409.statusCode, 201);
  const existing = await post({ name: `dup2_${suffix}`, roleSet, access: 'readonly', secretRef: 'file:acme/b11' });
  t.equal(existing.statusCode, 409, 'a secret that exists is never overwritten');
  t.equal(existing.json().code, 'PGS_SECRET_EXISTS');
  t.equal((await app.inject({ url: `${users}/dup2_${suffix}`, headers: bearer(acme) })).statusCode, 404, 'no row');
});

t.test('without an admin secret: 409 PGS_ADMIN_SECRET_REQUIRED', async (t) => {
  test.writeSecrets({
    'acme/plain': { username: 'x', password: 'y', host: '127.0.0.1', port: admin.cluster.port, dbname: admin.name },
  });
  const plain = await app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(acme),
    payload: { name: `plain-${suffix}`, secretRef: 'file:acme/plain' },
  });
  await test.db.ownerQuery(
    `INSERT INTO role_sets (tenant_id, target_id, name, database, schemas, roles) VALUES ('acme', $1, $2, $3, ARRAY['public'], ARRAY['readonly'])`,
    [plain.json().id, roleSet, admin.name],
  );
  const res = await app.inject({
    method: 'POST',
    url: `/v1/targets/${plain.json().id}/users`,
    headers: bearer(acme),
    payload: { name: `noadmin_${suffix}`, roleSet, access: 'readonly', secretRef: 'file:acme/noadmin' },
  });
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, 'PGS_ADMIN_SECRET_REQUIRED');
});

t.test('scopes: roles:read lists, roles:write changes', async (t) => {
  const reader = token('acme', ['roles:read']);
  t.equal((await app.inject({ url: users, headers: bearer(reader) })).statusCode, 200);
  const res = await post({ name: 'x', roleSet, access: 'readonly', secretRef: 'file:acme/y' }, reader);
  t.equal(res.statusCode, 403);
  t.equal((await app.inject({ url: users, headers: bearer(token('acme', ['targets:read'])) })).statusCode, 403);
});

t.test(
  'GraphQL: createLoginUser, Target.users, loginUser, rotateUser, deleteLoginUser; 404 across tenants',
  async (t) => {
    const { postGraphql } = await import('../helpers/graphql.js');
    const name = `gql_${suffix}`;
    const created = await postGraphql(
      app,
      acme,
      `mutation($t: ID!, $i: CreateLoginUserInput!) { createLoginUser(targetId: $t, input: $i) { name access strategy state activeUsername secretRef } }`,
      {
        t: targetId,
        i: { name, roleSet, access: 'READONLY', secretRef: `file:acme/users/${name}`, strategy: 'SINGLE' },
      },
    );
    t.same(created.errors, undefined);
    t.same(created.data?.createLoginUser, {
      name,
      access: 'READONLY',
      strategy: 'SINGLE',
      state: 'ACTIVE',
      activeUsername: name,
      secretRef: `file:acme/users/${name}`,
    });
    const listed = await postGraphql(app, acme, 'query($t: ID!) { target(id: $t) { users { name } } }', {
      t: targetId,
    });
    t.ok((listed.data?.target as { users: { name: string }[] } | undefined)?.users.some((u) => u.name === name));
    const one = await postGraphql(
      app,
      acme,
      'query($t: ID!, $n: String!) { loginUser(targetId: $t, name: $n) { name } }',
      {
        t: targetId,
        n: name,
      },
    );
    t.same(one.data, { loginUser: { name } });
    const rotated = await postGraphql(
      app,
      acme,
      'mutation($t: ID!, $n: String!) { rotateUser(targetId: $t, name: $n) { id kind } }',
      {
        t: targetId,
        n: name,
      },
    );
    const job = rotated.data?.rotateUser as { id: string; kind: string };
    t.equal(job.kind, 'role.rotate');
    t.equal((await waitForJob(app, acme, job.id)).status, 'succeeded');

    const umbrella = token('umbrella', [...USER_SCOPES]);
    const theirs = await postGraphql(
      app,
      umbrella,
      'mutation($t: ID!, $n: String!) { rotateUser(targetId: $t, name: $n) { id } }',
      {
        t: targetId,
        n: name,
      },
    );
    t.equal(theirs.errors?.[0]?.extensions?.code, 'PGS_TARGET_NOT_FOUND', 'another tenant: not found');
    const hidden = await postGraphql(
      app,
      umbrella,
      'query($t: ID!, $n: String!) { loginUser(targetId: $t, name: $n) { name } }',
      {
        t: targetId,
        n: name,
      },
    );
    t.equal(hidden.errors?.[0]?.extensions?.code, 'PGS_TARGET_NOT_FOUND');

    const deleted = await postGraphql(
      app,
      acme,
      'mutation($t: ID!, $n: String!) { deleteLoginUser(targetId: $t, name: $n) }',
      {
        t: targetId,
        n: name,
      },
    );
    t.same(deleted.data, { deleteLoginUser: true });
    t.equal(await roleRow(name), undefined);
  },
);

t.test('rotation.everyDays: the leader pass enqueues one rotation per due user, never two at once', async (t) => {
  const { rotationPass } = await import('../../src/domain/roles/users/rotation-pass.js');
  const name = `sched_${suffix}`;
  const ref = `file:acme/users/${name}`;
  const created = await post({ name, roleSet, access: 'readonly', secretRef: ref, rotation: { everyDays: 30 } });
  t.equal(created.statusCode, 201, created.body);
  const due = Date.parse(created.json().nextRotationAt) - Date.parse(created.json().lastRotatedAt);
  t.equal(due, 30 * 86_400_000, 'due 30 days after the create');
  const log = { info: () => {}, warn: () => {}, error: (o: unknown) => t.fail(`pass logged an error: ${String(o)}`) };
  const pass = () => rotationPass.run({ pool: test.db.appPool }, new Date(Date.now() + 31 * 86_400_000), log);
  const jobsOf = () =>
    test.db.ownerQuery<{ id: string; status: string }>(
      "SELECT id, status FROM jobs WHERE kind = 'role.rotate' AND subjects ->> 'loginUser' = (SELECT id::text FROM role_users WHERE name = $1)",
      [name],
    );
  await Promise.all([pass(), pass(), pass()]);
  const jobs = await jobsOf();
  t.equal(jobs.length, 1, 'three passes at once, one rotation');
  const done = await waitForJob(app, acme, jobs[0]?.id as string);
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const user = (await app.inject({ url: `${users}/${name}`, headers: bearer(acme) })).json();
  t.equal(user.activeUsername, `${name}_clone`);
  t.ok(Date.parse(user.nextRotationAt) > Date.now() + 29 * 86_400_000, 'the next one is 30 days out');
  await rotationPass.run({ pool: test.db.appPool }, new Date(), log);
  t.equal((await jobsOf()).length, 1, 'nothing due now: nothing enqueued');
  const current = await secretOf(ref);
  t.ok(await logsIn(admin, String(current.username), String(current.password)));
});
