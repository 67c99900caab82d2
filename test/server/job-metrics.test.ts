import t from 'tap';
import { inTenantScope } from '../../src/db/tenant-scope.js';
import { enqueueJob } from '../../src/jobs/queue.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { type JobView, waitForJob } from '../helpers/jobs.js';
import { acmeTarget } from '../helpers/targets.js';

t.test('/metrics: standard process names, and job metrics by kind and outcome, never by id', async (t) => {
  const test = await buildTestApp(t, {}, { worker: true });
  const { token, targetId } = await acmeTarget(t, test, { rows: 50 });
  const started = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/backups`,
    headers: bearer(token),
    payload: { format: 'custom', includeGlobals: false },
  });
  const job = started.json() as JobView;
  t.equal((await waitForJob(test.app, token, job.id)).status, 'succeeded');
  // A job no worker here has a task for stays queued: the queue depth counts it.
  await inTenantScope(test.db.appPool, { tenantId: 'acme' }, (tx) =>
    enqueueJob(tx, { tenantId: 'acme', kind: 'not-run-here', payload: {} }),
  );

  const res = await test.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  const body = res.body;
  t.match(body, /^process_cpu_seconds_total \d/m, 'process metrics under their standard names');
  t.match(body, /^nodejs_eventloop_lag_seconds \d/m);
  t.match(body, /^pgsteward_jobs_started_total\{kind="backup"\} 1$/m);
  t.match(body, /^pgsteward_jobs_finished_total\{kind="backup",outcome="succeeded"\} 1$/m);
  t.match(body, /^pgsteward_jobs_running\{kind="backup"\} 0$/m);
  t.match(body, /^pgsteward_job_duration_seconds_count\{kind="backup"\} 1$/m);
  t.match(body, /^pgsteward_job_duration_seconds_bucket\{le="\+Inf",kind="backup"\} 1$/m);
  t.match(body, /^pgsteward_jobs_queued\{kind="not-run-here"\} 1$/m);
  t.match(body, /^pgsteward_job_lease_renewals_failed_total 0$/m);
  t.notMatch(body, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, 'no id in any label');
  t.notMatch(body, /acme|tenant(_id)?="/, 'no tenant in any label');
});
