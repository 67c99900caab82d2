// Issue 12 §1: tenant-scoped reads now write BEGIN, set_config, the query and COMMIT in one round trip
// on a pipelined connection. Whatever the path, a pooled connection never serves tenant B's request with
// tenant A's setting, and a connection with no tenant set sees no row.
import t from 'tap';
import { createAppPool } from '../../src/db/pool.js';
import { inTenantScope, readInTenantScope } from '../../src/db/tenant-scope.js';
import { selectJob } from '../../src/domain/jobs/queries.js';
import { createTestDatabase } from '../helpers/database.js';

const db = await createTestDatabase(t);
await db.ownerQuery(`INSERT INTO tenants (id, name) VALUES ('acme', 'Acme'), ('globex', 'Globex')`);
const jobs = await db.ownerQuery<{ id: string; tenant_id: string }>(
  `INSERT INTO jobs (tenant_id, kind, status) VALUES ('acme', 'backup', 'succeeded'), ('globex', 'backup', 'succeeded')
   RETURNING id, tenant_id`,
);
const jobOf = (tenant: string) => jobs.find((j) => j.tenant_id === tenant)?.id as string;

// One connection, so every request below runs on the same server session, one after another.
const single = createAppPool(db.ownerSettings, 1);
db.beforeClose(() => single.end());

const ALL_JOBS = { text: 'SELECT id, tenant_id FROM jobs ORDER BY tenant_id', values: [] };
const SETTING =
  "SELECT current_setting('pgsteward.tenant', true) AS tenant, current_setting('pgsteward.all_tenants', true) AS all_tenants";

t.test('the application pool pipelines (the one-round-trip read is the path under test)', async (t) => {
  const client = await single.connect();
  try {
    t.equal((client as unknown as { pipeline?: boolean }).pipeline, true);
  } finally {
    client.release();
  }
});

t.test('interleaved requests of two tenants on one connection each see only their own rows', async (t) => {
  const reads = Array.from({ length: 60 }, (_, i) => {
    const tenant = i % 3 === 0 ? 'globex' : 'acme';
    return readInTenantScope<{ id: string; tenant_id: string }>(single, { tenantId: tenant }, ALL_JOBS).then(
      (rows) => ({ tenant, rows }),
    );
  });
  for (const { tenant, rows } of await Promise.all(reads)) {
    t.same(
      rows.map((r) => r.tenant_id),
      [tenant],
      `a ${tenant} request saw only ${tenant}'s rows`,
    );
  }
  // Each tenant's own job by id, the other's not: what GET /v1/jobs/{id} answers 404 on.
  t.equal((await readInTenantScope(single, { tenantId: 'acme' }, selectJob(jobOf('acme')))).length, 1);
  t.equal((await readInTenantScope(single, { tenantId: 'globex' }, selectJob(jobOf('acme')))).length, 0);
  t.equal((await readInTenantScope(single, { tenantId: 'acme' }, selectJob(jobOf('globex')))).length, 0);
});

t.test("after a tenant's read the connection carries no tenant, and a read without one sees nothing", async (t) => {
  await readInTenantScope(single, { tenantId: 'acme' }, ALL_JOBS);
  const [setting] = (await single.query(SETTING)).rows;
  t.not(setting.tenant, 'acme');
  t.not(setting.all_tenants, 'on');
  t.same((await single.query(ALL_JOBS.text)).rows, [], 'no tenant set: RLS shows no job');
  t.same((await single.query('SELECT id FROM tenants')).rows, [], 'nor any tenant');

  await readInTenantScope(single, { allTenants: true }, ALL_JOBS);
  t.same((await single.query(ALL_JOBS.text)).rows, [], 'nor after an operator read of every tenant');
  await inTenantScope(single, { tenantId: 'globex' }, (tx) => tx.rows(ALL_JOBS));
  t.same((await single.query(ALL_JOBS.text)).rows, [], 'nor after a multi-statement transaction');
});

t.test('a failing read leaves no transaction and no tenant behind', async (t) => {
  await t.rejects(readInTenantScope(single, { tenantId: 'acme' }, { text: 'SELECT 1 / 0', values: [] }), {
    code: '22012',
  });
  await t.rejects(
    readInTenantScope(single, { tenantId: 'acme' }, { text: 'SELECT id FROM jobs WHERE id = $1', values: ['x'] }),
    { code: '22P02' },
  );
  const client = await single.connect();
  try {
    t.equal(
      (client as unknown as { getTransactionStatus(): string }).getTransactionStatus(),
      'I',
      'idle, not in a transaction',
    );
    const [setting] = (await client.query(SETTING)).rows;
    t.not(setting.tenant, 'acme');
    t.same((await client.query(ALL_JOBS.text)).rows, []);
  } finally {
    client.release();
  }
  t.same(
    (await readInTenantScope<{ tenant_id: string }>(single, { tenantId: 'globex' }, ALL_JOBS)).map((r) => r.tenant_id),
    ['globex'],
    'the next tenant is served normally',
  );
});

t.test('a transaction that throws is rolled back, and its tenant does not reach the next request', async (t) => {
  await t.rejects(
    inTenantScope(single, { tenantId: 'acme' }, async (tx) => {
      await tx.rows({
        text: `INSERT INTO audit_events (tenant_id, actor, action, resource, outcome, status_code)
               VALUES ('acme', 'rolled-back', 'x', 'r', 'success', 200)`,
        values: [],
      });
      throw new Error('the handler failed');
    }),
    /the handler failed/,
  );
  t.same(await db.ownerQuery("SELECT 1 FROM audit_events WHERE actor = 'rolled-back'"), []);
  const [setting] = (await single.query(SETTING)).rows;
  t.not(setting.tenant, 'acme');
});

t.test('a statement that fails inside a pipelined transaction fails the transaction, not silently', async (t) => {
  await t.rejects(
    inTenantScope(single, { tenantId: 'acme' }, (tx) =>
      tx.rows({
        text: `INSERT INTO audit_events (tenant_id, actor, action, resource, outcome, status_code)
               VALUES ('globex', 'cross', 'x', 'r', 'success', 200)`,
        values: [],
      }),
    ),
    { code: '42501' },
  );
  t.same(await db.ownerQuery("SELECT 1 FROM audit_events WHERE actor = 'cross'"), []);
});

t.test('values that are not plain literals are bound, never written into the statement', async (t) => {
  await db.ownerQuery(`INSERT INTO tenants (id, name) VALUES ('quoted', 'O''Brien; --')`);
  const byName = { text: 'SELECT id FROM tenants WHERE name = $1', values: ["O'Brien; --"] };
  t.same(await readInTenantScope(single, { tenantId: 'quoted' }, byName), [{ id: 'quoted' }]);
  t.same(await readInTenantScope(single, { tenantId: 'acme' }, byName), [], "another tenant's row stays hidden");
  const injection = { text: 'SELECT id FROM tenants WHERE id = $1', values: ["x' OR true OR '"] };
  t.same(await readInTenantScope(single, { allTenants: true }, injection), []);
  t.same((await single.query(SETTING)).rows[0].tenant ?? '', '', 'and no tenant is left behind');
});
