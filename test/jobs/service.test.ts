import { randomUUID } from 'node:crypto';
import t from 'tap';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { cancelJob, getJob, getJobsByIds, listJobs } from '../../src/domain/jobs/service.js';
import { type JobView as Job, toJobView } from '../../src/domain/jobs/view.js';
import { enqueueJob } from '../../src/jobs/queue.js';
import type { Job as EngineJob } from '../../src/jobs/types.js';
import { createTestDatabase } from '../helpers/database.js';
import { addTenants, ctxFor, enqueue, targetIdFor } from './job-fixtures.js';

const db = await createTestDatabase(t);
await addTenants(db, 'acme', 'globex');
const acme = ctxFor(db.appPool, 'acme', ['jobs:read', 'jobs:write']);
const globex = ctxFor(db.appPool, 'globex', ['jobs:read', 'jobs:write']);
const operator = ctxFor(db.appPool, null, ['tenants:admin', 'jobs:read']);

const targetId = await targetIdFor(db, 'acme');
// Seven acme jobs, five of them in one transaction (so they share created_at: the keyset's tie-break
// on id is exercised), and one globex job.
const acmeJobs: Job[] = [];
acmeJobs.push(toJobView(await enqueue(db, 'acme', { kind: 'backup', targetId })));
acmeJobs.push(toJobView(await enqueue(db, 'acme', { kind: 'restore', payload: { confirm: true } })));
await inTenantScope(db.appPool, { tenantId: 'acme' }, async (tx) => {
  for (let i = 0; i < 5; i++) {
    acmeJobs.push(toJobView(await enqueueJob(tx, { tenantId: 'acme', kind: 'vacuum', payload: { i } })));
  }
});
const globexJob = await enqueue(db, 'globex', { kind: 'backup' });

t.test('getJob answers the own tenant its job, as enqueued', async (t) => {
  const [first] = acmeJobs;
  const job = await getJob(acme, first?.id ?? '');
  t.same(job, first);
  t.match(job, { tenantId: 'acme', kind: 'backup', targetId, status: 'queued', attempts: 0, maxAttempts: 3 });
});

t.test("another tenant's job, a missing id and a malformed id all answer PGS_JOB_NOT_FOUND", async (t) => {
  for (const id of [globexJob.id, randomUUID(), 'not-a-uuid', "1' OR '1'='1"]) {
    await t.rejects(getJob(acme, id), { code: 'PGS_JOB_NOT_FOUND', statusCode: 404 }, `getJob ${id}`);
    await t.rejects(cancelJob(acme, id), { code: 'PGS_JOB_NOT_FOUND', statusCode: 404 }, `cancelJob ${id}`);
  }
  t.equal((await getJob(globex, globexJob.id)).status, 'queued', "globex's job was not cancelled by acme");
});

t.test('scopes: reading needs jobs:read, cancelling needs jobs:write', async (t) => {
  const readOnly = ctxFor(db.appPool, 'acme', ['jobs:read']);
  const none = ctxFor(db.appPool, 'acme', ['backups:read']);
  const id = acmeJobs[0]?.id ?? '';
  await t.rejects(getJob(none, id), { code: 'PGS_MISSING_SCOPE' });
  await t.rejects(listJobs(none, {}), { code: 'PGS_MISSING_SCOPE' });
  await t.rejects(getJobsByIds(none, [id]), { code: 'PGS_MISSING_SCOPE' });
  await t.rejects(cancelJob(readOnly, id), { code: 'PGS_MISSING_SCOPE' });
  t.equal((await getJob(readOnly, id)).id, id);
});

t.test('operators see every tenant', async (t) => {
  t.equal((await getJob(operator, globexJob.id)).tenantId, 'globex');
  const page = await listJobs(operator, { limit: 200 });
  t.equal(page.items.length, 8);
});

t.test('listJobs pages newest first through all of the tenant, without repeats or gaps', async (t) => {
  const seen: Job[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await listJobs(acme, { limit: 2, cursor });
    seen.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  t.equal(seen.length, 7);
  t.same(new Set(seen.map((j) => j.id)), new Set(acmeJobs.map((j) => j.id)), 'exactly the tenant’s jobs');
  for (let i = 1; i < seen.length; i++) {
    t.ok((seen[i - 1]?.createdAt ?? '') >= (seen[i]?.createdAt ?? ''), 'newest first');
  }
  t.equal(seen.at(-1)?.id, acmeJobs[0]?.id, 'the oldest comes last');
});

t.test('listJobs filters by status, kind and target', async (t) => {
  const [backup, restore] = acmeJobs;
  await cancelJob(acme, restore?.id ?? '');
  t.same(
    (await listJobs(acme, { status: 'cancelled' })).items.map((j) => j.id),
    [restore?.id],
  );
  t.equal((await listJobs(acme, { kind: 'vacuum' })).items.length, 5);
  t.same(
    (await listJobs(acme, { targetId })).items.map((j) => j.id),
    [backup?.id],
  );
  await t.rejects(listJobs(acme, { status: 'done' as never }), { code: 'PGS_VALIDATION' });
  await t.rejects(listJobs(acme, { targetId: 'nope' }), { code: 'PGS_VALIDATION' });
  await t.rejects(listJobs(acme, { limit: 0 }), { code: 'PGS_VALIDATION' });
  await t.rejects(listJobs(acme, { cursor: 'garbage' }), { code: 'PGS_INVALID_CURSOR' });
  const forged = Buffer.from(JSON.stringify({ v: 1, p: "2024-01-01T00:00:00.000000Z|x' OR 1=1" })).toString(
    'base64url',
  );
  await t.rejects(listJobs(acme, { cursor: forged }), { code: 'PGS_INVALID_CURSOR' });
});

t.test('getJobsByIds returns only visible jobs, under the ids as asked', async (t) => {
  const [a, b] = acmeJobs;
  const upper = (a?.id ?? '').toUpperCase();
  const found = await getJobsByIds(acme, [upper, b?.id ?? '', globexJob.id, 'junk', randomUUID()]);
  t.same([...found.keys()].sort(), [upper, b?.id].sort());
  t.equal(found.get(upper)?.id, a?.id);
  t.same(await getJobsByIds(acme, []), new Map());
});

t.test('a job enqueued in a transaction that rolls back does not exist', async (t) => {
  let enqueued: EngineJob | undefined;
  await t.rejects(
    inTenantScope(db.appPool, { tenantId: 'acme' }, async (tx) => {
      enqueued = await enqueueJob(tx, { tenantId: 'acme', kind: 'orphan' });
      throw new Error('the request failed after enqueueing');
    }),
  );
  t.ok(enqueued);
  await t.rejects(getJob(acme, enqueued?.id ?? ''), { code: 'PGS_JOB_NOT_FOUND' });
});

t.test('a tenant cannot enqueue a job for another tenant: row-level security refuses it', async (t) => {
  await t.rejects(
    inTenantScope(db.appPool, { tenantId: 'acme' }, (tx) => enqueueJob(tx, { tenantId: 'globex', kind: 'sneaky' })),
    { code: '42501' },
  );
});

t.test('enqueue validates its input', async (t) => {
  await t.rejects(enqueue(db, 'acme', { kind: '' }), { code: 'PGS_VALIDATION' });
  await t.rejects(enqueue(db, 'acme', { maxAttempts: 0 }), { code: 'PGS_VALIDATION' });
  await t.rejects(enqueue(db, 'acme', { payload: [] as never }), { code: 'PGS_VALIDATION' });
});

t.test('subjects are stored as given, and the API view names the backup and restore among them', async (t) => {
  const backup = randomUUID();
  const restore = randomUUID();
  const job = await enqueue(db, 'acme', { kind: 'subjects', subjects: { backup, restore, role: 'r-1' } });
  t.same(job.subjects, { backup, restore, role: 'r-1' });
  const [row] = await db.ownerQuery<{ subjects: unknown }>('SELECT subjects FROM jobs WHERE id = $1', [job.id]);
  t.same(row?.subjects, { backup, restore, role: 'r-1' });
  const view = await getJob(acme, job.id);
  t.match(view, { backupId: backup, restoreId: restore });
  t.notOk('subjects' in view, 'the map itself stays internal');
  const plain = await enqueue(db, 'acme', { kind: 'subjects' });
  t.match(await getJob(acme, plain.id), { backupId: null, restoreId: null });
});

t.test('subjects must map kinds to non-empty string ids, in the engine and in the table', async (t) => {
  for (const subjects of [{ backup: '' }, { '': 'x' }, { backup: 7 }, ['x']]) {
    await t.rejects(enqueue(db, 'acme', { subjects: subjects as never }), { code: 'PGS_VALIDATION' }, String(subjects));
  }
  const job = await enqueue(db, 'acme', { kind: 'subjects' });
  await t.rejects(db.ownerQuery(`UPDATE jobs SET subjects = '{"backup": 7}' WHERE id = $1`, [job.id]), {
    code: '23514',
  });
  await t.rejects(db.ownerQuery(`UPDATE jobs SET subjects = '["x"]' WHERE id = $1`, [job.id]), { code: '23514' });
});
