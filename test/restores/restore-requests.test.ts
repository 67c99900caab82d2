import t from 'tap';
import { bearer } from '../helpers/app.js';
import { restoreFixture } from './restore-fixture.js';

const f = await restoreFixture(t);
const plain = await f.backup({ format: 'plain', includeGlobals: false });
const custom = await f.backup({ format: 'custom' });

t.test('bad input answers 400 with a stable code, and no job', async (t) => {
  const cases: [string, object, object][] = [
    ['an empty name', custom, { database: '' }],
    ['a name over 63 bytes', custom, { database: 'é'.repeat(32) }],
    ["a name with '='", custom, { database: 'a=b' }],
    ["a name starting with '-'", custom, { database: '-x' }],
    ['template1', custom, { database: 'template1' }],
    ['an unknown mode', custom, { database: 'x', mode: 'merge' }],
    ['an unknown field', custom, { database: 'x', dropEverything: true }],
    ['parallel with a plain backup', plain, { database: 'x', parallel: 2 }],
    ['parallel out of range', custom, { database: 'x', parallel: 17 }],
    ['tables with a plain backup', plain, { database: 'x', tables: ['users'] }],
    ['noOwner with a plain backup', plain, { database: 'x', noOwner: true }],
    ['a malformed table name', custom, { database: 'x', tables: ['a.b.c.'] }],
  ];
  for (const [what, backup, payload] of cases) {
    const r = await f.restore((backup as { id: string }).id, payload);
    t.equal(r.status, 400, what);
    t.match(r.body.code, /^PGS_VALIDATION$/, what);
  }
  const jobs = await f.app.inject({ method: 'GET', url: '/v1/restores', headers: bearer(f.acme) });
  t.same(jobs.json().items, [], 'no restore was recorded');
});

t.test('another tenant gets 404 for the backup, its restores, and sees none listed', async (t) => {
  const database = f.newName('mine');
  const mine = await f.restore(custom.id, { database, noOwner: true, noPrivileges: true });
  t.equal(mine.job?.status, 'succeeded', JSON.stringify(mine.job?.error));
  const start = await f.restore(custom.id, { database: f.newName() }, f.globex);
  t.equal(start.status, 404);
  t.equal(start.body.code, 'PGS_BACKUP_NOT_FOUND');
  const get = await f.app.inject({
    method: 'GET',
    url: `/v1/restores/${mine.body.restoreId}`,
    headers: bearer(f.globex),
  });
  t.equal(get.statusCode, 404);
  t.equal(get.json().code, 'PGS_RESTORE_NOT_FOUND');
  const list = await f.app.inject({
    method: 'GET',
    url: `/v1/restores?backupId=${custom.id}`,
    headers: bearer(f.globex),
  });
  t.same(list.json().items, []);
  const own = await f.app.inject({
    method: 'GET',
    url: `/v1/restores?backupId=${custom.id}&targetId=${f.targetId}&limit=1`,
    headers: bearer(f.acme),
  });
  t.equal(own.json().items.length, 1);
  t.equal(own.json().items[0].id, mine.body.restoreId);
  const next = own.json().nextCursor;
  if (next) {
    const page2 = await f.app.inject({ method: 'GET', url: `/v1/restores?cursor=${next}`, headers: bearer(f.acme) });
    t.equal(page2.statusCode, 200);
  }
  const bad = await f.app.inject({ method: 'GET', url: '/v1/restores?cursor=nope', headers: bearer(f.acme) });
  t.equal(bad.json().code, 'PGS_INVALID_CURSOR');
  const gql = await f.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(f.globex),
    payload: {
      query: `query($id: ID!) { restore(id: $id) { id } }`,
      variables: { id: mine.body.restoreId },
    },
  });
  t.equal(gql.json().errors?.[0]?.extensions?.code, 'PGS_RESTORE_NOT_FOUND');
  const gqlStart = await f.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(f.globex),
    payload: {
      query: `mutation($b: ID!) { startRestore(backupId: $b, input: { database: "x" }) { id } }`,
      variables: { b: custom.id },
    },
  });
  t.equal(gqlStart.json().errors?.[0]?.extensions?.code, 'PGS_BACKUP_NOT_FOUND');
});

t.test('GraphQL starts a restore and reads it back, with the job and progress', async (t) => {
  const database = f.newName('gql');
  const res = await f.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(f.acme),
    payload: {
      query: `mutation($b: ID!, $d: String!) {
        startRestore(backupId: $b, input: { database: $d, mode: CREATE, parallel: 2 }) { id kind restoreId }
      }`,
      variables: { b: custom.id, d: database },
    },
  });
  const job = res.json().data.startRestore;
  t.equal(job.kind, 'restore');
  const { waitForJob } = await import('../helpers/jobs.js');
  t.equal((await waitForJob(f.app, f.acme, job.id)).status, 'succeeded');
  const read = await f.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(f.acme),
    payload: {
      query: `query($id: ID!, $b: ID!) {
        restore(id: $id) { id database mode status tables { schema name rows } roles { missing created skipped } job { id } }
        restores(backupId: $b, first: 10) { items { id } nextCursor }
      }`,
      variables: { id: job.restoreId, b: custom.id },
    },
  });
  const body = read.json();
  t.notOk(body.errors, JSON.stringify(body.errors));
  t.match(body.data.restore, { id: job.restoreId, database, mode: 'CREATE', status: 'SUCCEEDED', job: { id: job.id } });
  t.ok(body.data.restore.tables.length >= 4);
  t.ok(body.data.restores.items.some((r: { id: string }) => r.id === job.restoreId));
});

t.test('globals: missing roles are created without passwords or powers, or reported', async (t) => {
  const role = `rr_${Math.random().toString(36).slice(2, 8)}`;
  await f.admin.query(`CREATE ROLE ${role} LOGIN CREATEDB REPLICATION PASSWORD 'secret-pw'`);
  await f.source.query(`GRANT SELECT ON users TO ${role}`);
  const b = await f.backup({ format: 'custom', includeGlobals: true });
  await f.source.query(`REVOKE SELECT ON users FROM ${role}`);
  await f.admin.query(`DROP ROLE ${role}`);
  t.teardown(() => f.admin.query(`DROP ROLE IF EXISTS ${role}`));

  const refused = await f.restore(b.id, { database: f.newName() });
  t.equal(refused.job?.error?.code, 'PGS_ROLES_MISSING');
  t.match(refused.job?.error?.message, role);

  const reported = await f.restore(b.id, { database: f.newName(), noOwner: true, noPrivileges: true });
  t.equal(reported.job?.status, 'succeeded', JSON.stringify(reported.job?.error));
  t.same((reported.job?.result?.roles as { missing: string[] } | undefined)?.missing, [role]);

  const database = f.newName('globals');
  const made = await f.restore(b.id, { database, includeGlobals: true });
  t.equal(made.job?.status, 'succeeded', JSON.stringify(made.job?.error));
  const roles = made.job?.result?.roles as { created: string[]; skipped: string[]; missing: string[] };
  t.ok(roles.created.includes(role));
  t.ok(roles.skipped.includes(`${role}: PASSWORD`));
  t.ok(roles.skipped.includes(`${role}: REPLICATION`));
  t.same(roles.missing, []);
  const { rows } = await f.admin.query(
    'SELECT rolcanlogin, rolcreatedb, rolreplication, rolpassword IS NULL AS nopw FROM pg_authid WHERE rolname = $1',
    [role],
  );
  t.same(rows[0], { rolcanlogin: true, rolcreatedb: true, rolreplication: false, nopw: true });
  const grant = await f.onDb(database, (c) =>
    c.query("SELECT has_table_privilege($1, 'public.users', 'SELECT') AS ok", [role]),
  );
  t.equal(grant.rows[0].ok, true, 'the grant was restored onto the created role');
  await f.admin.query(`DROP DATABASE "${database}" WITH (FORCE)`);
});
