// A table named in the request exists when the backup is accepted but is gone when the job runs: the
// job fails with PGS_UNKNOWN_RELATION (--strict-names semantics), and nothing is stored.
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { createJobWorker } from '../../src/jobs-runtime.js';
import { bearer, buildTestApp, TEST_JWT_SECRET } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { acmeTarget } from '../helpers/targets.js';

t.test('a table dropped between the request and the dump fails the job with PGS_UNKNOWN_RELATION', async (t) => {
  const test = await buildTestApp(t); // no worker yet: the job waits in the queue
  const { source, token, targetId } = await acmeTarget(t, test);
  const started = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(token),
    payload: { tables: ['users', 'billing.invoices'], includeGlobals: false },
  });
  t.equal(started.statusCode, 202, 'both tables exist when the backup is accepted');
  await source.query('DROP TABLE billing.invoices');

  const config = loadConfig({
    PGSTEWARD_JWT_SECRET: TEST_JWT_SECRET,
    PGSTEWARD_DATA_DIR: test.dir,
    PGSTEWARD_SECRETS_FILE: `${test.dir}/secrets.json`,
    PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8',
  });
  const worker = createJobWorker({
    config,
    pool: test.db.appPool,
    listen: test.db.ownerSettings,
    services: test.services,
  });
  await worker.start();
  test.db.beforeClose(() => worker.stop({ timeoutMs: 2_000 }));

  const done = await waitForJob(test.app, token, started.json().id);
  t.equal(done.status, 'failed', 'the job fails');
  t.equal(done.error?.code, 'PGS_UNKNOWN_RELATION', 'with the unknown-relation code');
  t.match(done.error?.message, /billing\.invoices/, 'naming the table');
  const backup = await test.app.inject({
    method: 'GET',
    url: `/v1/backups/${done.backupId}`,
    headers: bearer(token),
  });
  t.equal(backup.json().status, 'failed', 'the backup is failed, not available');
  t.same(await test.services.storage.list(`acme/${targetId}/${done.backupId}/`), [], 'no artifact');
  t.same(await test.services.storage.listTemporary(), [], 'no temporary object');
});
