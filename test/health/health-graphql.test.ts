import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { type GraphqlAnswer, postGraphql } from '../helpers/graphql.js';
import { waitForJob } from '../helpers/jobs.js';
import { HEALTH_SCOPES, healthTarget, ownedDatabase } from './fixtures.js';

const test = await buildTestApp(t, {}, { worker: true });
await test.seedTenants('acme', 'other');
const token = test.token('acme', [...HEALTH_SCOPES]);
const otherToken = test.token('other', [...HEALTH_SCOPES]);
const db = await ownedDatabase(t, test.db.cluster);
const targetId = await healthTarget(test, token, db, 'graph-db');
await healthTarget(test, token, db, 'graph-db-2');

let reportId = '';
const field = <T>(answer: GraphqlAnswer, name: string) => answer.data?.[name] as T;

t.test('startHealthReport answers the job; its result names the report', async (t) => {
  const answer = await postGraphql(
    test.app,
    token,
    'mutation($id: ID!) { startHealthReport(targetId: $id) { id kind status } }',
    { id: targetId },
  );
  t.same(answer.errors, undefined);
  const job = answer.data?.startHealthReport as { id: string; kind: string };
  t.equal(job.kind, 'health.report');
  const done = await waitForJob(test.app, token, job.id);
  t.equal(done.status, 'succeeded');
  reportId = done.result?.healthReportId as string;
  const audit = await test.db.ownerQuery<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = 'acme' AND action LIKE '%startHealthReport%'",
  );
  t.equal(audit[0]?.n, 1, 'the mutation is audited');
});

t.test('Target.latestHealthReport and Target.healthReports, batched across a page of targets', async (t) => {
  const answer = await postGraphql(
    test.app,
    token,
    `{ targets { items { name latestHealthReport { id status counts { fail warn unknown pass }
         checks { id category status summary evidence remediation } }
       healthReports { id status } } } }`,
  );
  t.same(answer.errors, undefined);
  const items = field<{ items: Record<string, unknown>[] }>(answer, 'targets').items;
  const mine = items.find((i) => i.name === 'graph-db') as {
    latestHealthReport: { id: string; status: string; checks: { id: string; status: string }[] };
    healthReports: { id: string }[];
  };
  t.equal(mine.latestHealthReport.id, reportId);
  t.ok(['PASS', 'WARN', 'FAIL', 'UNKNOWN'].includes(mine.latestHealthReport.status));
  t.ok(mine.latestHealthReport.checks.some((c) => c.id === 'maintenance.dead_tuples'));
  t.same(
    mine.healthReports.map((r) => r.id),
    [reportId],
  );
  const never = items.find((i) => i.name === 'graph-db-2');
  t.match(never, { latestHealthReport: null, healthReports: [] });
});

t.test('fleetHealth and healthReport; another tenant sees neither', async (t) => {
  const fleet = await postGraphql(
    test.app,
    token,
    '{ fleetHealth { items { targetName status ageSeconds counts { fail } } } }',
  );
  t.same(fleet.errors, undefined);
  t.ok(field<{ items: unknown[] }>(fleet, 'fleetHealth').items.length === 2);
  const one = await postGraphql(test.app, token, 'query($id: ID!) { healthReport(id: $id) { id targetId } }', {
    id: reportId,
  });
  t.match(one.data?.healthReport, { id: reportId, targetId });
  const theirs = await postGraphql(test.app, otherToken, 'query($id: ID!) { healthReport(id: $id) { id } }', {
    id: reportId,
  });
  t.equal(theirs.data?.healthReport, null, "another tenant's report reads as null");
  const start = await postGraphql(
    test.app,
    otherToken,
    'mutation($id: ID!) { startHealthReport(targetId: $id) { id } }',
    {
      id: targetId,
    },
  );
  t.equal(start.errors?.[0]?.extensions.code, 'PGS_TARGET_NOT_FOUND');
  const theirFleet = await postGraphql(test.app, otherToken, '{ fleetHealth { items { targetId } } }');
  t.same(field<{ items: unknown[] }>(theirFleet, 'fleetHealth').items, []);
});

t.test('without health:read the relations read as null', async (t) => {
  const answer = await postGraphql(
    test.app,
    test.token('acme', ['targets:read']),
    '{ targets { items { latestHealthReport { id } healthReports { id } } } }',
  );
  t.same(answer.errors, undefined);
  const items = field<{ items: Record<string, unknown>[] }>(answer, 'targets').items;
  t.ok(items.every((i) => i.latestHealthReport === null && i.healthReports === null));
});

t.test('metrics: the latest status and failing-check counts per target and category', async (t) => {
  const res = await test.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.body, new RegExp(`pgsteward_health_report_status\\{target_id="${targetId}"\\} [0-4]`));
  t.match(
    res.body,
    new RegExp(`pgsteward_health_failing_checks\\{target_id="${targetId}",category="security"\\} \\d+`),
  );
  t.notMatch(res.body, /pgsteward_health_[a-z_]+\{[^}]*table/, 'no table label');
});
