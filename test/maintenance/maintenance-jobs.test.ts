import pg from 'pg';
import t from 'tap';
import { quoteIdent } from '../../src/sql/identifiers.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { type JobView, waitForJob, waitForRunning } from '../helpers/jobs.js';
import { createSourceDatabase } from '../helpers/source-database.js';
import { registerTarget } from '../helpers/targets.js';

/*
 * Real VACUUM FULL on the harness's cluster. The deterministic pause is an expression index whose
 * function sleeps 0.3 s per row while the database setting maint.slow is on: VACUUM FULL rebuilds the
 * index after rewriting the table, so for ~3 s the job's session sits in pg_stat_progress_cluster's
 * "rebuilding index" phase, where the test watches its progress and cancels it.
 */
const test = await buildTestApp(t, {}, { worker: true });
const { app, token, db } = test;
await test.seedTenants('acme', 'globex');
const source = await createSourceDatabase(t, db.cluster, { rows: 200 });
const targetId = (await registerTarget(test, token('acme', ['targets:write']), source)).json().id as string;
const acme = token('acme', ['maintenance:write', 'health:read', 'jobs:read', 'jobs:write']);
const jobsReader = token('acme', ['jobs:read']);
const reader = token('acme', ['health:read']);

/**
 * A superuser session on the source database. The connect keeps a timer running: pg's SCRAM exchange
 * awaits WebCrypto, which holds no event-loop handle, and with nothing else pending tap would see an
 * idle loop and end the file mid-connect (seen here).
 */
async function connectAdmin(): Promise<pg.Client> {
  const client = new pg.Client(db.cluster.clientConfig(source.name));
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await client.connect();
  } finally {
    clearInterval(keepAlive);
  }
  return client;
}

const admin = await connectAdmin();
admin.on('error', () => {}); // the source database is dropped WITH (FORCE) at teardown
t.teardown(() => admin.end());

await source.query(`
  CREATE TABLE bloated (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = off);
  INSERT INTO bloated SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
  DELETE FROM bloated WHERE id % 10 <> 0;
  CREATE FUNCTION slow_id(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
      IF current_setting('maint.slow', true) = 'on' THEN PERFORM pg_catalog.pg_sleep(0.3); END IF;
      RETURN $1;
    END $$;
  CREATE TABLE slow (id int) WITH (autovacuum_enabled = off);
  INSERT INTO slow SELECT g FROM generate_series(1, 10) g;
  CREATE INDEX slow_idx ON slow (slow_id(id));
  ALTER TABLE billing.invoices SET (autovacuum_enabled = off);
`);

// Only sessions that start from now on (the job's) sleep.
await admin.query(`ALTER DATABASE ${quoteIdent(source.name)} SET maint.slow = 'on'`);

const relfilenode = async (table: string) =>
  (await admin.query<{ n: string }>('SELECT relfilenode::text AS n FROM pg_class WHERE oid = $1::regclass', [table]))
    .rows[0]?.n;
const rowCount = async (table: string) =>
  Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);

const post = (payload: object, who = acme, id = targetId) =>
  app.inject({ method: 'POST', url: `/v1/targets/${id}/maintenance`, headers: bearer(who), payload });
const putWindow = (payload: object) =>
  app.inject({ method: 'PUT', url: `/v1/targets/${targetId}/maintenance-window`, headers: bearer(acme), payload });
const getRun = (id: string, who = acme) =>
  app.inject({ method: 'GET', url: `/v1/maintenance/${id}`, headers: bearer(who) });
const maintenanceJobs = async () =>
  (await app.inject({ method: 'GET', url: '/v1/jobs?kind=maintenance&limit=200', headers: bearer(jobsReader) })).json()
    .items.length as number;

/** A daily window that opened an hour ago and stays open two more hours. */
function openWindow() {
  const start = new Date(Date.now() - 60 * 60_000);
  return { schedule: `${start.getUTCMinutes()} ${start.getUTCHours()} * * *`, durationMinutes: 180, timezone: 'UTC' };
}

/** A daily window that opens in two hours. */
function laterWindow() {
  const start = new Date(Date.now() + 120 * 60_000);
  return { schedule: `${start.getUTCMinutes()} ${start.getUTCHours()} * * *`, durationMinutes: 30, timezone: 'UTC' };
}

/** Poll the job (as a dashboard would) until it ends, keeping every distinct progress it showed. */
async function watchJob(jobId: string): Promise<{ job: JobView; seen: Record<string, unknown>[] }> {
  const seen: Record<string, unknown>[] = [];
  for (;;) {
    const job = (
      await app.inject({ method: 'GET', url: `/v1/jobs/${jobId}`, headers: bearer(acme) })
    ).json() as JobView;
    const last = seen.at(-1);
    if (Object.keys(job.progress).length > 0 && JSON.stringify(last) !== JSON.stringify(job.progress)) {
      seen.push(job.progress);
    }
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return { job, seen };
    await new Promise((r) => setTimeout(r, 40));
  }
}

/** Until the job's session shows in pg_stat_progress_cluster working on `table`; answers its pid. */
async function waitForRewrite(table: string, timeoutMs = 30_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_progress_cluster WHERE relid = $1::regclass',
      [table],
    );
    if (rows[0]) return rows[0].pid;
    if (Date.now() - started > timeoutMs) throw new Error(`no VACUUM FULL of ${table} showed up`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

t.test('VACUUM FULL outside the window is refused, and nothing runs', async (t) => {
  const before = { bloated: await relfilenode('bloated'), jobs: await maintenanceJobs() };

  const noWindow = await post({ action: 'vacuum_full', tables: ['bloated'] });
  t.equal(noWindow.statusCode, 409);
  t.equal(noWindow.json().code, 'PGS_OUTSIDE_MAINTENANCE_WINDOW');
  t.match(noWindow.json().detail, /has no window/);

  t.equal((await putWindow(laterWindow())).statusCode, 200);
  const closed = await post({ action: 'vacuum_full', tables: ['bloated'] });
  t.equal(closed.statusCode, 409);
  t.equal(closed.json().code, 'PGS_OUTSIDE_MAINTENANCE_WINDOW');
  t.match(closed.json().detail, /the next one opens at \d{4}-/, 'the error names when the next window opens');
  t.match(closed.json().detail, /"outsideWindow": true and "confirm": "main"/);

  const plainReindex = await post({ action: 'reindex', tables: ['bloated'], concurrently: false });
  t.equal(plainReindex.json().code, 'PGS_OUTSIDE_MAINTENANCE_WINDOW', 'REINDEX without CONCURRENTLY is gated too');

  const unconfirmed = await post({ action: 'vacuum_full', tables: ['bloated'], outsideWindow: true });
  t.equal(unconfirmed.statusCode, 409);
  t.equal(unconfirmed.json().code, 'PGS_CONFIRM_REQUIRED');
  const wrongName = await post({ action: 'vacuum_full', tables: ['bloated'], outsideWindow: true, confirm: 'Main' });
  t.equal(wrongName.json().code, 'PGS_CONFIRM_REQUIRED');

  await new Promise((r) => setTimeout(r, 300)); // a job, had one been queued, would have started by now
  t.equal(await maintenanceJobs(), before.jobs, 'no job was queued');
  t.equal(await relfilenode('bloated'), before.bloated, 'the table was not rewritten');
});

t.test('a window about to close refuses a job the estimate says would not finish', async (t) => {
  const before = await maintenanceJobs();
  // Opens every minute for one minute: always open, never with 60 s (the margin) left.
  t.equal((await putWindow({ schedule: '* * * * *', durationMinutes: 1 })).statusCode, 200);
  const res = await post({ action: 'vacuum_full', tables: ['bloated', 'slow'] });
  t.equal(res.statusCode, 409);
  t.equal(res.json().code, 'PGS_MAINTENANCE_WOULD_OVERRUN');
  t.match(
    res.json().detail,
    /VACUUM FULL of 2 tables \([\d.]+ MiB by pg_total_relation_size\) is estimated at \d+ s \(at 16\.0 MiB\/s\) plus a 60 s margin/,
  );
  t.equal(await maintenanceJobs(), before, 'no job was queued');
});

t.test('inside the window VACUUM FULL runs with progress and shrinks a bloated table', async (t) => {
  t.equal((await putWindow(openWindow())).statusCode, 200);
  const before = {
    bloated: await relfilenode('bloated'),
    slow: await relfilenode('slow'),
    rows: await rowCount('bloated'),
  };
  const res = await post({ action: 'vacuum_full', tables: ['public.bloated', 'slow'], verbose: true });
  t.equal(res.statusCode, 202);
  const jobId = res.json().id as string;
  t.equal(res.headers.location, `/v1/maintenance/${jobId}`);
  const { job, seen } = await watchJob(jobId);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));

  const rebuilding = seen.find((p) => p.currentTable === 'public.slow' && p.phase === 'rebuilding index');
  t.ok(rebuilding, `progress showed pg_stat_progress_cluster's phase (saw ${JSON.stringify(seen)})`);
  t.match(rebuilding, { action: 'vacuum_full', tablesDone: 1, tablesTotal: 2, blocksTotal: Number });
  t.ok(
    seen.some((p) => p.currentTable === 'public.bloated'),
    'the current table was reported',
  );

  const run = (await getRun(jobId)).json();
  t.match(run, { id: jobId, jobId, targetId, action: 'vacuum_full', status: 'succeeded', error: null });
  t.ok(run.windowEnd, 'the run knows when its window closes');
  const [bloated, slow] = run.tables;
  t.match(bloated, { schema: 'public', name: 'bloated', durationMs: Number });
  t.ok(
    bloated.after.totalBytes < bloated.before.totalBytes / 2,
    `shrank from ${bloated.before.totalBytes} to ${bloated.after.totalBytes}`,
  );
  t.ok(
    bloated.messages.some((m: string) => /bloated/.test(m)),
    'the VERBOSE output is kept',
  );
  t.match(slow, { name: 'slow', after: { totalBytes: Number } });
  t.not(await relfilenode('bloated'), before.bloated, 'the table was rewritten');
  t.not(await relfilenode('slow'), before.slow);
  t.equal(await rowCount('bloated'), before.rows, 'every row is still there');
  t.same(job.result?.tables, run.tables, "the job's result carries the same tables");
});

t.test('cancelling a VACUUM FULL mid-rewrite leaves the table intact', async (t) => {
  const before = { slow: await relfilenode('slow'), rows: await rowCount('slow') };
  const res = await post({ action: 'vacuum_full', tables: ['slow'] });
  t.equal(res.statusCode, 202);
  const jobId = res.json().id as string;
  await waitForRunning(app, acme, jobId);
  const pid = await waitForRewrite('slow');
  const cancel = await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: bearer(acme) });
  t.equal(cancel.statusCode, 202);
  const done = await waitForJob(app, acme, jobId, 10_000);
  t.equal(done.status, 'cancelled');
  const run = (await getRun(jobId)).json();
  t.match(run, { status: 'cancelled', error: { code: 'PGS_CANCELLED' } });
  t.match(run.error.message, /stopped during VACUUM FULL of public\.slow \(pg_cancel_backend\)/);
  t.match(run.error.message, /public\.slow is intact/);
  t.match(run.tables, [{ name: 'slow', after: null }]);
  t.equal(await relfilenode('slow'), before.slow, 'the old file is still the table');
  t.equal(await rowCount('slow'), before.rows, 'every row is still there');
  const { rows } = await admin.query('SELECT 1 FROM pg_stat_progress_cluster WHERE pid = $1', [pid]);
  t.same(rows, [], 'the rewrite stopped on the server');
});

t.test('cancelling a REINDEX CONCURRENTLY mid-build drops its invalid copy; the index in use is intact', async (t) => {
  const before = await relfilenode('slow_idx');
  const res = await post({ action: 'reindex', tables: ['slow'] });
  t.equal(res.statusCode, 202);
  const jobId = res.json().id as string;
  const started = Date.now();
  for (;;) {
    const { rows } = await admin.query(
      "SELECT 1 FROM pg_stat_progress_create_index WHERE relid = 'slow'::regclass AND phase LIKE 'building index%'",
    );
    if (rows.length > 0) break;
    if (Date.now() - started > 30_000) throw new Error('the concurrent build never showed up');
    await new Promise((r) => setTimeout(r, 30));
  }
  await app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: bearer(acme) });
  t.equal((await waitForJob(app, acme, jobId, 10_000)).status, 'cancelled');
  const run = (await getRun(jobId)).json();
  t.match(run.error, { code: 'PGS_CANCELLED', message: /REINDEX CONCURRENTLY of public\.slow/ });
  const { rows } = await admin.query(
    "SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = 'slow'::regclass",
  );
  t.same(rows, [{ relname: 'slow_idx' }], 'no invalid _ccnew copy is left behind');
  t.equal(await relfilenode('slow_idx'), before, 'the index in use was not replaced');
});

t.test('a lock held by another session fails the job with a lock timeout and a hint', async (t) => {
  const holder = await connectAdmin();
  t.teardown(() => holder.end());
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE bloated IN ACCESS SHARE MODE');
  const before = await relfilenode('bloated');
  const res = await post({ action: 'vacuum_full', tables: ['bloated'], lockTimeoutSeconds: 1 });
  t.equal(res.statusCode, 202);
  const started = Date.now();
  const done = await waitForJob(app, acme, res.json().id);
  t.equal(done.status, 'failed');
  t.equal(done.error?.code, 'PGS_MAINTENANCE_LOCK_TIMEOUT');
  t.match(done.error?.message, /VACUUM FULL of public\.bloated waited 1 s for its lock and gave up/);
  t.match(done.error?.message, /Hint: find the holder in pg_locks/);
  t.ok(Date.now() - started < 15_000, 'it gave up rather than waiting for the holder');
  const run = (await getRun(res.json().id)).json();
  t.match(run, { status: 'failed', error: { code: 'PGS_MAINTENANCE_LOCK_TIMEOUT' } });
  await holder.query('ROLLBACK');
  t.equal(await relfilenode('bloated'), before, 'the table was not touched');
});

t.test('VACUUM ANALYZE of a schema records dead tuples before and after', async (t) => {
  // One session: its counts are flushed to the statistics when it goes idle after this query.
  await source.query(`
    UPDATE billing.invoices SET amount = amount + 1;
    UPDATE billing.invoices SET amount = amount + 1;
    SELECT pg_stat_force_next_flush();
  `);
  for (let i = 0; i < 100; i++) {
    const { rows } = await admin.query<{ n: string }>(
      "SELECT n_dead_tup AS n FROM pg_stat_all_tables WHERE relid = 'billing.invoices'::regclass",
    );
    if (Number(rows[0]?.n) > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const res = await post({ action: 'vacuum_analyze', schemas: ['billing'] });
  t.equal(res.statusCode, 202);
  const done = await waitForJob(app, acme, res.json().id);
  t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const run = (await getRun(res.json().id)).json();
  t.equal(run.tables.length, 1, 'every table of the schema, and only those');
  const [invoices] = run.tables;
  t.match(invoices, { schema: 'billing', name: 'invoices' });
  t.ok(invoices.before.deadTuples >= 84, `dead tuples before: ${invoices.before.deadTuples}`);
  t.equal(invoices.after.deadTuples, 0, 'none after');
  t.equal(invoices.after.liveTuples, 42);
});

t.test('a plain VACUUM needs no window; REINDEX is CONCURRENTLY by default and needs none either', async (t) => {
  t.equal(
    (await app.inject({ method: 'DELETE', url: `/v1/targets/${targetId}/maintenance-window`, headers: bearer(acme) }))
      .statusCode,
    204,
  );
  const vacuum = await post({ action: 'vacuum', tables: ['users', '"Odd ""Name"".x"'] });
  t.equal(vacuum.statusCode, 202, vacuum.body);
  const reindex = await post({ action: 'reindex', tables: ['users'] });
  t.equal(reindex.statusCode, 202);
  for (const r of [vacuum, reindex]) {
    const done = await waitForJob(app, acme, r.json().id);
    t.equal(done.status, 'succeeded', JSON.stringify(done.error));
  }
  const run = (await getRun(reindex.json().id)).json();
  t.match(run, { action: 'reindex', options: { concurrently: true }, tables: [{ name: 'users', after: Object }] });
  const odd = (await getRun(vacuum.json().id)).json().tables[0];
  t.match(odd, { schema: 'public', name: 'Odd "Name".x' });
});

t.test('unknown tables answer 422 and malformed requests 400, before any job exists', async (t) => {
  const before = await maintenanceJobs();
  const unknown = await post({ action: 'vacuum', tables: ['users', 'nope.nothing'] });
  t.equal(unknown.statusCode, 422);
  t.match(unknown.json(), { code: 'PGS_UNKNOWN_RELATION', detail: 'Unknown table: nope.nothing.' });
  const schema = await post({ action: 'analyze', schemas: ['ghost'] });
  t.match(schema.json(), { code: 'PGS_UNKNOWN_RELATION', detail: 'Unknown schema: ghost.' });
  for (const body of [
    { action: 'vacuum', tables: ['users'], schemas: ['billing'] },
    { action: 'vacuum', concurrently: true },
    { action: 'cluster' },
    { action: 'vacuum', tables: ['a.b.c'] },
    { action: 'vacuum', lockTimeoutSeconds: 0 },
  ]) {
    const res = await post(body);
    t.equal(res.statusCode, 400, JSON.stringify(body));
  }
  t.equal(await maintenanceJobs(), before);
});

t.test(
  'a credential that does not own the tables: the admin credential runs it, or the job names the owner',
  async (t) => {
    const role = `maint_ro_${process.pid}`;
    const password = 'not-the-owner-0123456789';
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    t.teardown(() => admin.query(`DROP ROLE IF EXISTS ${role}`));
    const writer = token('acme', ['targets:write', 'targets:read']);
    const created = await registerTarget(test, writer, { name: source.name, role, password }, { name: 'lowpriv' });
    t.equal(created.statusCode, 201);
    const lowpriv = created.json().id as string;

    const refused = await post({ action: 'vacuum', tables: ['users', 'orders'] }, acme, lowpriv);
    t.equal(refused.statusCode, 202);
    const failed = await waitForJob(app, acme, refused.json().id);
    t.equal(failed.status, 'failed');
    t.equal(failed.error?.code, 'PGS_MAINTENANCE_NOT_OWNER');
    const owner = (
      await admin.query("SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = 'users'::regclass")
    ).rows[0]?.o;
    t.match(failed.error?.message, `public.orders is owned by '${owner}'; public.users is owned by '${owner}'`);
    t.match(failed.error?.message, /Set the target's adminSecretRef/);
    t.same((await getRun(refused.json().id)).json().tables, [], 'no table was started');

    // The source's own login (a superuser) as the admin credential: it may, so it runs the job.
    const patched = await app.inject({
      method: 'PATCH',
      url: `/v1/targets/${lowpriv}`,
      headers: bearer(writer),
      payload: { adminSecretRef: 'file:acme/main' },
    });
    t.equal(patched.statusCode, 200, patched.body);
    const ran = await post({ action: 'vacuum', tables: ['users', 'orders'] }, acme, lowpriv);
    const done = await waitForJob(app, acme, ran.json().id);
    t.equal(done.status, 'succeeded', JSON.stringify(done.error));
    t.match((await getRun(ran.json().id)).json(), {
      credential: 'admin',
      tables: [{ name: 'orders' }, { name: 'users' }],
    });

    const own = await post({ action: 'analyze', tables: ['users'] });
    await waitForJob(app, acme, own.json().id);
    t.equal((await getRun(own.json().id)).json().credential, 'secret', 'secretRef when it may');
  },
);

t.test('another tenant sees none of it: 404 everywhere', async (t) => {
  const globex = token('globex', ['maintenance:write', 'health:read', 'jobs:read']);
  const res = await post({ action: 'vacuum' }, globex);
  t.equal(res.statusCode, 404);
  t.equal(res.json().code, 'PGS_TARGET_NOT_FOUND');
  const ours = await post({ action: 'analyze', tables: ['users'] });
  t.equal(ours.statusCode, 202);
  const theirs = await getRun(ours.json().id, globex);
  t.equal(theirs.statusCode, 404);
  t.equal(theirs.json().code, 'PGS_MAINTENANCE_NOT_FOUND');
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const w = await app.inject({
      method,
      url: `/v1/targets/${targetId}/maintenance-window`,
      headers: bearer(globex),
      ...(method === 'PUT' ? { payload: { schedule: '@daily', durationMinutes: 60 } } : {}),
    });
    t.equal(w.statusCode, 404, method);
  }
  await waitForJob(app, acme, ours.json().id);
  const list = await app.inject({ method: 'GET', url: `/v1/targets/${targetId}/maintenance`, headers: bearer(globex) });
  t.equal(list.statusCode, 404, 'nor its history');
});

t.test("a target's runs are listed newest first, a page at a time", async (t) => {
  const listUrl = `/v1/targets/${targetId}/maintenance`;
  const first = (await app.inject({ method: 'GET', url: `${listUrl}?limit=2`, headers: bearer(reader) })).json();
  t.equal(first.items.length, 2);
  t.ok(first.nextCursor, 'there is more');
  const second = (
    await app.inject({ method: 'GET', url: `${listUrl}?limit=2&cursor=${first.nextCursor}`, headers: bearer(reader) })
  ).json();
  const times = [...first.items, ...second.items].map((r: { createdAt: string }) => Date.parse(r.createdAt));
  t.same(
    times,
    [...times].sort((a, b) => b - a),
    'newest first',
  );
  t.equal(new Set([...first.items, ...second.items].map((r: { id: string }) => r.id)).size, 4, 'no run twice');
  t.ok([...first.items, ...second.items].every((r: { targetId: string }) => r.targetId === targetId));
});

t.test('starting maintenance is audited, naming the run', async (t) => {
  const res = await post({ action: 'analyze', tables: ['users'] });
  t.equal(res.statusCode, 202);
  await waitForJob(app, acme, res.json().id);
  const audit = await app.inject({
    method: 'GET',
    url: '/v1/audit?limit=200',
    headers: bearer(token('acme', ['audit:read'])),
  });
  const events = audit.json().items as { action: string; resource: string; outcome: string }[];
  t.ok(
    events.some((e) => e.resource === `maintenance/${res.json().id}` && e.outcome === 'success'),
    'an audit event names the maintenance run',
  );
});
