import t from 'tap';
import { expirePreviousDatabases } from '../../src/domain/restores/expire-previous.js';
import { bearer } from '../helpers/app.js';
import { restoreFixture } from './restore-fixture.js';

const f = await restoreFixture(t);
const custom = await f.backup({ format: 'custom', includeGlobals: false });
const deps = { pool: f.db.appPool, services: f.services };

interface RestoreView {
  id: string;
  previousDatabase: string | null;
  keepUntil: string | null;
  previousDroppedAt: string | null;
  code?: string;
}

const getRestore = async (id: string, tok = f.acme) =>
  (await f.app.inject({ method: 'GET', url: `/v1/restores/${id}`, headers: bearer(tok) })).json() as RestoreView;

/** A database restored, then replaced: answers the replace's restore (its previousDatabase is kept). */
async function replaced(prefix: string): Promise<{ database: string; restore: RestoreView }> {
  const database = f.newName(prefix);
  const first = await f.restore(custom.id, { database });
  if (first.job?.status !== 'succeeded') throw new Error(JSON.stringify(first.job?.error));
  const r = await f.restore(custom.id, { database, mode: 'replace', confirm: database });
  if (r.job?.status !== 'succeeded') throw new Error(JSON.stringify(r.job?.error));
  return { database, restore: await getRestore(r.body.restoreId as string) };
}

const expire = (id: string) =>
  f.db.ownerQuery("UPDATE restores SET keep_until = now() - interval '1 minute' WHERE id = $1", [id]);
const exists = async (database: string) => (await f.databases(database)).length === 1;
const sweep = async (restoreId: string) =>
  (await expirePreviousDatabases(deps)).filter((d) => d.restoreId === restoreId).map((d) => d.outcome);

t.test('a kept database past keepUntil is dropped by one sweep pass, and a second pass does nothing', async (t) => {
  const { restore } = await replaced('expire');
  const previous = restore.previousDatabase as string;
  t.equal(restore.previousDroppedAt, null, 'kept, not dropped');
  t.same(await sweep(restore.id), [], 'not due before keepUntil');
  t.ok(await exists(previous));

  await expire(restore.id);
  t.same(await sweep(restore.id), ['dropped']);
  t.notOk(await exists(previous), 'gone from pg_database');
  const after = await getRestore(restore.id);
  t.ok(after.previousDroppedAt && Date.parse(after.previousDroppedAt) <= Date.now(), 'previousDroppedAt is set');
  t.equal(after.previousDatabase, previous, 'the name stays on record');

  t.same(await sweep(restore.id), [], 'a second pass is a no-op');
  t.equal((await getRestore(restore.id)).previousDroppedAt, after.previousDroppedAt, 'not re-stamped');

  const gql = await f.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(f.acme),
    payload: { query: `{ restore(id: "${restore.id}") { previousDroppedAt } }` },
  });
  t.equal(gql.json().data?.restore?.previousDroppedAt, after.previousDroppedAt, 'GraphQL shows it too');
});

t.test('a kept database with an open connection is skipped, and dropped once it is free', async (t) => {
  const { restore } = await replaced('inuse');
  const previous = restore.previousDatabase as string;
  await expire(restore.id);
  await f.onDb(previous, async (c) => {
    t.same(await sweep(restore.id), ['in-use']);
    t.ok(await exists(previous), 'not dropped while in use');
    t.same((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'and its session was not ended');
  });
  t.equal((await getRestore(restore.id)).previousDroppedAt, null);
  t.same(await sweep(restore.id), ['dropped'], 'the next pass drops it');
  t.notOk(await exists(previous));
});

t.test('DELETE /v1/restores/{id}/previous-database drops the kept database early', async (t) => {
  const { database, restore } = await replaced('early');
  const previous = restore.previousDatabase as string;
  const url = `/v1/restores/${restore.id}/previous-database`;

  const other = await f.app.inject({ method: 'DELETE', url, headers: bearer(f.globex) });
  t.equal(other.statusCode, 404, 'another tenant cannot see it');
  t.equal(other.json().code, 'PGS_RESTORE_NOT_FOUND');
  const readOnly = f.token('acme', ['backups:read']);
  t.equal((await f.app.inject({ method: 'DELETE', url, headers: bearer(readOnly) })).statusCode, 403);

  await f.onDb(previous, async () => {
    const busy = await f.app.inject({ method: 'DELETE', url, headers: bearer(f.acme) });
    t.equal(busy.statusCode, 409);
    t.equal(busy.json().code, 'PGS_DATABASE_IN_USE');
    t.ok(await exists(previous), 'kept while in use');
  });

  const res = await f.app.inject({ method: 'DELETE', url, headers: bearer(f.acme) });
  t.equal(res.statusCode, 200);
  const body = res.json() as RestoreView;
  t.equal(body.id, restore.id);
  t.ok(body.previousDroppedAt, 'previousDroppedAt is set');
  t.notOk(await exists(previous), 'gone from pg_database');
  t.ok(await exists(database), 'the restored database is untouched');

  const again = await f.app.inject({ method: 'DELETE', url, headers: bearer(f.acme) });
  t.equal(again.statusCode, 409);
  t.equal(again.json().code, 'PGS_NO_KEPT_DATABASE');
  t.same(await sweep(restore.id), [], 'the sweep has nothing left to do for it');
});

t.test('a create restore has no kept database to drop: 409', async (t) => {
  const r = await f.restore(custom.id, { database: f.newName('plain') });
  const res = await f.app.inject({
    method: 'DELETE',
    url: `/v1/restores/${r.body.restoreId}/previous-database`,
    headers: bearer(f.acme),
  });
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, 'PGS_NO_KEPT_DATABASE');
});
