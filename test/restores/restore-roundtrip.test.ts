import t from 'tap';
import { bearer } from '../helpers/app.js';
import { restoreFixture } from './restore-fixture.js';

const f = await restoreFixture(t);
const expected = await f.fingerprint(f.source.name);

for (const format of ['custom', 'directory', 'tar', 'plain'] as const) {
  t.test(`a ${format} backup restores into a new database with every row, checked by count and md5`, async (t) => {
    const b = await f.backup({ format, includeGlobals: false });
    const database = f.newName(format);
    const r = await f.restore(b.id, {
      database,
      ...(format === 'custom' || format === 'directory' ? { parallel: 2 } : {}),
    });
    t.equal(r.status, 202);
    t.equal(r.body.kind, 'restore');
    t.ok(r.body.restoreId, 'the job carries its restoreId');
    t.equal(r.job?.status, 'succeeded', JSON.stringify(r.job?.error));
    t.same(await f.fingerprint(database), expected, 'every table: same row count and content checksum');
    const got = await f.app.inject({ method: 'GET', url: `/v1/restores/${r.body.restoreId}`, headers: bearer(f.acme) });
    t.equal(got.statusCode, 200);
    const restore = got.json();
    t.match(restore, { status: 'succeeded', database, mode: 'create', backupId: b.id, targetId: f.targetId });
    const rows = Object.fromEntries(
      restore.tables.map((x: { schema: string; name: string; rows: number }) => [`${x.schema}.${x.name}`, x.rows]),
    );
    t.same(rows, Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, v.rows])), 'counted rows recorded');
    t.same(restore.roles.missing, []);
    t.equal(r.job?.progress.phase, 'swap');
    t.same(await f.databases(`${database}_pgs%`), [], 'no work database left');
  });
}

t.test('a tables subset restores only those tables', async (t) => {
  const b = await f.backup({ format: 'custom', includeGlobals: false });
  const database = f.newName('sub');
  const r = await f.restore(b.id, { database, tables: ['users', 'billing.invoices'] });
  t.equal(r.job?.status, 'succeeded', JSON.stringify(r.job?.error));
  const got = await f.fingerprint(database);
  t.same(Object.keys(got).sort(), ['billing.invoices', 'public.users']);
  t.same(got['public.users'], expected['public.users']);
  t.same(got['billing.invoices'], expected['billing.invoices']);
});
