import { tmpdir } from 'node:os';
import t from 'tap';
import { z } from 'zod';
import { loadConfig } from '../../src/config.js';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { capabilities } from '../../src/domain/capabilities.js';
import type { Services } from '../../src/domain/services.js';
import { defineTask, enqueueTask, PAYLOAD_INVALID, payloadParser, taskHandlers } from '../../src/jobs/task.js';
import { JobFailure } from '../../src/jobs/types.js';
import { createJobWorker } from '../../src/jobs-runtime.js';
import { createTestDatabase } from '../helpers/database.js';
import { addTenants, captureLog, enqueue, jobRow, waitFor } from './job-fixtures.js';

const db = await createTestDatabase(t);
await addTenants(db, 'acme');

const echo = defineTask({
  kind: 'echo',
  maxAttempts: 4,
  parsePayload: payloadParser('echo', z.object({ word: z.string().min(1) })),
  handler: (deps: { suffix: string }) => async (_task, payload: { word: string }) => ({
    said: payload.word + deps.suffix,
  }),
});

t.test('every capability task is registered once, with its own kind and attempts', async (t) => {
  const tasks = capabilities.flatMap((c) => c.tasks);
  t.same(tasks.map((task) => task.kind).sort(), [
    'backup',
    'encryption-rewrap',
    'health.report',
    'maintenance',
    'restore',
    'role.rotate',
    'verify',
  ]);
  t.same(Object.fromEntries(tasks.map((task) => [task.kind, task.maxAttempts])), {
    backup: 3,
    restore: 2,
    verify: 3,
    'role.rotate': 5,
    'health.report': 1,
    maintenance: 2,
    'encryption-rewrap': 3,
  });
  t.throws(() => taskHandlers([echo, echo], { suffix: '' }), /two tasks are defined for job kind 'echo'/);
});

t.test('a definition refuses a kind or maxAttempts the jobs table would', async (t) => {
  const base = { parsePayload: (raw: unknown) => raw, handler: () => async () => ({}) };
  t.throws(() => defineTask({ ...base, kind: '', maxAttempts: 1 }), RangeError);
  t.throws(() => defineTask({ ...base, kind: 'x', maxAttempts: 0 }), RangeError);
  t.throws(() => defineTask({ ...base, kind: 'x', maxAttempts: 101 }), RangeError);
  t.throws(() => defineTask({ ...base, kind: 'x', maxAttempts: 1.5 }), RangeError);
});

t.test('enqueueTask takes kind and attempts from the definition, and refuses a payload it would not run', async (t) => {
  const job = await inTenantScope(db.appPool, { tenantId: 'acme' }, (tx) =>
    enqueueTask(tx, echo, { tenantId: 'acme', subjects: { word: 'w-1' }, payload: { word: 'hi' } }),
  );
  t.match(job, { kind: 'echo', maxAttempts: 4, payload: { word: 'hi' }, subjects: { word: 'w-1' } });
  await t.rejects(
    inTenantScope(db.appPool, { tenantId: 'acme' }, (tx) =>
      enqueueTask(tx, echo, { tenantId: 'acme', payload: { word: '' } }),
    ),
    { code: PAYLOAD_INVALID },
  );
  const handler = taskHandlers([echo], { suffix: '!' }).echo;
  const result = await handler?.({
    job,
    attemptId: 'a',
    signal: new AbortController().signal,
    reportProgress: async () => {},
  });
  t.same(result, { said: 'hi!' }, 'the handler is given its deps and the parsed payload');
});

t.test('payloadParser names the fields that are wrong, in a JobFailure that is not retried', async (t) => {
  const parse = payloadParser('echo', z.object({ word: z.string(), n: z.number() }));
  const err = (() => {
    try {
      parse({ word: 3 });
    } catch (e) {
      return e;
    }
  })();
  t.type(err, JobFailure);
  t.match(err, { code: PAYLOAD_INVALID, retryable: false, message: /word: .*; n: /s });
});

t.test('a capability task given a malformed payload fails with PGS_JOB_PAYLOAD_INVALID, not retried', async (t) => {
  const config = loadConfig({ LOG_LEVEL: 'silent', PGSTEWARD_DATA_DIR: tmpdir() });
  const log = captureLog();
  // The payload is refused before any collaborator is touched, so none is needed.
  const worker = createJobWorker({
    config,
    pool: db.appPool,
    listen: db.ownerSettings,
    services: {} as Services,
    log,
  });
  await worker.start();
  t.teardown(() => worker.stop({ timeoutMs: 1_000 }));
  const malformed = {
    backup: {},
    restore: { restoreId: 'not-a-uuid' },
    verify: { backupId: '6f1c2a4e-8b1d-4c3e-9f6a-2d5b7c9e1f30' }, // no trigger
  };
  for (const [kind, payload] of Object.entries(malformed)) {
    const job = await enqueue(db, 'acme', { kind, payload, maxAttempts: 3 });
    const row = await waitFor(`the ${kind} job to fail`, async () => {
      const r = await jobRow(db, job.id);
      return r.status === 'failed' && r;
    });
    t.equal(row.error?.code, PAYLOAD_INVALID, `${kind}: its code`);
    t.match(row.error?.message, new RegExp(`payload of this ${kind} job is malformed`), `${kind}: says why`);
    t.equal(row.attempts, 1, `${kind}: not retried`);
  }
  t.same(
    log.lines.filter((l) => l.level === 'error'),
    [],
    'an expected failure, not logged as a bug',
  );
});
