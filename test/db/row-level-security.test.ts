import t from 'tap';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { createTestDatabase } from '../helpers/database.js';

const db = await createTestDatabase(t);
await db.ownerQuery(`INSERT INTO tenants (id, name) VALUES ('acme', 'Acme'), ('globex', 'Globex')`);
await db.ownerQuery(
  `INSERT INTO audit_events (tenant_id, actor, action, resource, outcome, status_code)
   VALUES ('acme', 'a', 'x', 'r', 'success', 200), ('globex', 'g', 'x', 'r', 'success', 200)`,
);

t.test('a query without a tenant filter sees only the tenant set for the transaction', async (t) => {
  const rows = await inTenantScope(db.appPool, { tenantId: 'acme' }, (tx) =>
    tx.rows<{ id: string }>({ text: 'SELECT id FROM tenants', values: [] }),
  );
  t.same(
    rows.map((r) => r.id),
    ['acme'],
  );
  const events = await inTenantScope(db.appPool, { tenantId: 'acme' }, (tx) =>
    tx.rows<{ actor: string }>({ text: 'SELECT actor FROM audit_events', values: [] }),
  );
  t.same(
    events.map((e) => e.actor),
    ['a'],
  );
});

t.test('the wrong tenant sees nothing, even asking for the row by id', async (t) => {
  const rows = await inTenantScope(db.appPool, { tenantId: 'globex' }, (tx) =>
    tx.rows({ text: `SELECT * FROM tenants WHERE id = 'acme'`, values: [] }),
  );
  t.same(rows, []);
});

t.test('with no scope set at all, nothing is visible', async (t) => {
  const { rows } = await db.appPool.query('SELECT * FROM tenants');
  t.same(rows, []);
});

t.test('an insert for another tenant is refused by the policy', async (t) => {
  await t.rejects(
    inTenantScope(db.appPool, { tenantId: 'acme' }, (tx) =>
      tx.rows({
        text: `INSERT INTO audit_events (tenant_id, actor, action, resource, outcome, status_code)
               VALUES ('globex', 'a', 'x', 'r', 'success', 200)`,
        values: [],
      }),
    ),
    { code: '42501' },
  );
});

t.test('the scope does not leak to the next transaction on the same pooled connection', async (t) => {
  const client = await db.appPool.connect();
  client.release();
  await inTenantScope(db.appPool, { tenantId: 'acme' }, async () => {});
  const { rows } = await db.appPool.query("SELECT current_setting('pgsteward.tenant', true) AS tenant");
  t.not(rows[0].tenant, 'acme');
});

t.test('application connections run as a role that cannot bypass RLS', async (t) => {
  const { rows } = await db.appPool.query(
    'SELECT current_user AS role, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user',
  );
  t.same(rows[0], { role: 'pgsteward_app', rolsuper: false, rolbypassrls: false });
  await t.rejects(db.appPool.query('DELETE FROM audit_events'), { code: '42501' }, 'the audit log is append-only');
});
