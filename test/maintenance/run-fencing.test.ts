import { randomUUID } from 'node:crypto';
import t from 'tap';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { finishRun, insertRun, markRunRunning, recordRunTables } from '../../src/domain/maintenance/queries.js';
import { bearer, buildTestApp } from '../helpers/app.js';

/*
 * A maintenance run's writes are fenced by the job's attempt id (the run's id is its job's): an attempt
 * that lost its job (lease expired, another attempt took over) changes nothing, however late it writes.
 */
const { app, db, token, seedTenants, writeSecrets } = await buildTestApp(t);
await seedTenants('acme');
writeSecrets({ 'acme/main': { username: 'app', password: 'not-used' } });
const target = await app.inject({
  method: 'POST',
  url: '/v1/targets',
  headers: bearer(token('acme', ['targets:write'])),
  payload: { name: 'main', secretRef: 'file:acme/main', host: 'localhost', database: 'app' },
});
const targetId = target.json().id as string;
const scope = { tenantId: 'acme' };
const options = { verbose: false, concurrently: false, outsideWindow: false, lockTimeoutSeconds: 5 };

/** A running maintenance job owned by `attemptId`, and its run, as the service and a claim leave them. */
async function runningJob(attemptId: string): Promise<string> {
  const [job] = await db.ownerQuery<{ id: string }>(
    `INSERT INTO jobs (tenant_id, kind, target_id, status, locked_by, locked_until, attempt_id, attempts)
     VALUES ('acme', 'maintenance', $1, 'running', 'test-worker', now() + interval '1 minute', $2, 1) RETURNING id`,
    [targetId, attemptId],
  );
  const id = job?.id as string;
  await inTenantScope(db.appPool, scope, (tx) =>
    tx.rows(
      insertRun({
        id,
        tenantId: 'acme',
        targetId,
        action: 'vacuum',
        selection: { tables: [], schemas: [] },
        options,
        windowEnd: null,
        estimate: null,
      }),
    ),
  );
  return id;
}

const runStatus = async (id: string) =>
  (
    await db.ownerQuery<{ status: string; tables: unknown[] }>(
      'SELECT status, tables FROM maintenance_runs WHERE id = $1',
      [id],
    )
  )[0];

t.test("a stale attempt's late writes change nothing; the owning attempt's do", async (t) => {
  const first = randomUUID();
  const id = await runningJob(first);
  const stranger = randomUUID();
  t.same(
    await inTenantScope(db.appPool, scope, (tx) => tx.rows(markRunRunning(id, stranger))),
    [],
    'no claim for another attempt',
  );
  t.equal((await runStatus(id))?.status, 'pending');
  t.equal((await inTenantScope(db.appPool, scope, (tx) => tx.rows(markRunRunning(id, first)))).length, 1);

  // The lease expired and a second attempt took the job over.
  const second = randomUUID();
  await db.ownerQuery('UPDATE jobs SET attempt_id = $2, attempts = 2 WHERE id = $1', [id, second]);
  const table = {
    schema: 'public',
    name: 'x',
    before: { totalBytes: 1, deadTuples: 0, liveTuples: 0 },
    after: null,
    durationMs: null,
  };
  await inTenantScope(db.appPool, scope, async (tx) => {
    await tx.rows(recordRunTables(id, first, [table]));
    await tx.rows(finishRun(id, first, 'failed', null, { code: 'PGS_MAINTENANCE_FAILED', message: 'late' }));
  });
  t.match(await runStatus(id), { status: 'running', tables: [] }, "the first attempt's late writes were refused");

  await inTenantScope(db.appPool, scope, (tx) => tx.rows(finishRun(id, second, 'succeeded', [table], null)));
  t.match(await runStatus(id), { status: 'succeeded', tables: [{ name: 'x' }] }, "the owner's write lands");
});
