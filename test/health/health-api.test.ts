import t from 'tap';
import { pruneReportHistory, scheduleDueReports } from '../../src/domain/health/passes.js';
import { bearer, buildTestApp } from '../helpers/app.js';
import { waitForJob } from '../helpers/jobs.js';
import { HEALTH_SCOPES, healthTarget, ownedDatabase, type ReportView, runReport } from './fixtures.js';

const test = await buildTestApp(t, {}, { worker: true });
await test.seedTenants('acme', 'other');
const token = test.token('acme', [...HEALTH_SCOPES]);
const otherToken = test.token('other', [...HEALTH_SCOPES]);
const db = await ownedDatabase(t, test.db.cluster);
const targetId = await healthTarget(test, token, db, 'orders-db');
const silent = { info: () => {}, warn: () => {}, error: () => {} };

const get = (url: string, tok = token, headers: Record<string, string> = {}) =>
  test.app.inject({ method: 'GET', url, headers: { ...bearer(tok), ...headers } });

let first: ReportView;

t.test('before any report, latest answers 404 PGS_HEALTH_REPORT_NOT_FOUND', async (t) => {
  const res = await get(`/v1/targets/${targetId}/health-reports/latest`);
  t.equal(res.statusCode, 404);
  t.equal(res.json().code, 'PGS_HEALTH_REPORT_NOT_FOUND');
});

t.test('POST answers 202 with the job; the job stores the report', async (t) => {
  const res = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/health-reports`,
    headers: bearer(token),
  });
  t.equal(res.statusCode, 202);
  t.equal(res.headers.location, `/v1/jobs/${res.json().id}`);
  t.equal(res.json().kind, 'health.report');
  const job = await waitForJob(test.app, token, res.json().id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const reportId = job.result?.healthReportId as string;
  const report = await get(`/v1/health-reports/${reportId}`);
  t.equal(report.statusCode, 200);
  first = report.json();
  t.equal(first.targetId, targetId);
  t.ok(['pass', 'warn', 'fail', 'unknown'].includes(first.status), 'a finished report has an overall status');
  t.ok(first.checks.length >= 30, `every check ran (${first.checks.length})`);
  t.match(first.server, { database: db.name, role: db.role, superuser: false });
  const latest = await get(`/v1/targets/${targetId}/health-reports/latest`);
  t.equal(latest.json().id, reportId, 'latest is that report');
});

t.test('?wait=N answers 201 with the finished report; N above 30 is a 400', async (t) => {
  const report = await runReport(test, token, targetId);
  t.not(report.id, first.id);
  const res = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/health-reports?wait=31`,
    headers: bearer(token),
  });
  t.equal(res.statusCode, 400);
});

t.test('the history pages newest first', async (t) => {
  const page1 = await get(`/v1/targets/${targetId}/health-reports?limit=1`);
  t.equal(page1.statusCode, 200);
  t.equal(page1.json().items.length, 1);
  t.ok(page1.json().nextCursor, 'a second page exists');
  const page2 = await get(`/v1/targets/${targetId}/health-reports?limit=1&cursor=${page1.json().nextCursor}`);
  t.equal(page2.json().items[0].id, first.id, 'the older report is on the second page');
});

t.test('Accept: text/plain answers at most 15 lines, with the target name and the counts', async (t) => {
  const res = await get(`/v1/health-reports/${first.id}`, token, { accept: 'text/plain' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain/);
  const lines = res.body.trimEnd().split('\n');
  t.ok(lines.length <= 15, `${lines.length} lines`);
  t.match(lines[0], /^orders-db: [A-Z]+ \(\d+ fail, \d+ warn, \d+ unknown, \d+ pass\)/);
  const order = ['FAIL', 'WARN', 'UNKNOWN'];
  const ranks = lines
    .slice(1)
    .map((l) => order.indexOf(l.split(' ')[0] ?? ''))
    .filter((r) => r >= 0);
  t.same(ranks, [...ranks].sort(), 'worst first');
});

t.test('Accept: text/html answers one self-contained page with an SVG chart of dead tuples', async (t) => {
  const res = await get(`/v1/health-reports/${first.id}`, token, { accept: 'text/html' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/html/);
  t.match(res.headers['content-security-policy'], /default-src 'none'/);
  t.match(res.body, /<svg [^>]*>/);
  t.match(res.body, /orders-db/);
  t.notMatch(res.body, /<script|<link|<img|src=|@import|url\(/i, 'nothing is fetched from elsewhere');
  const json = await get(`/v1/health-reports/${first.id}`, token, { accept: 'application/json' });
  t.equal(json.json().id, first.id, 'JSON stays the default');
});

t.test('the fleet view lists each target with its latest status, counts and age', async (t) => {
  const other = await healthTarget(test, token, db, 'never-reported');
  const res = await get('/v1/health');
  t.equal(res.statusCode, 200);
  const items = res.json().items as Record<string, unknown>[];
  const mine = items.find((i) => i.targetId === targetId);
  t.match(mine, { targetName: 'orders-db', status: String, counts: { fail: Number, warn: Number } });
  t.ok(typeof mine?.ageSeconds === 'number' && mine.ageSeconds >= 0, 'with its age');
  t.match(
    items.find((i) => i.targetId === other),
    { status: null, reportId: null, ageSeconds: null },
  );
});

t.test('health policy: thresholds over the defaults, validated; get and delete', async (t) => {
  const url = `/v1/targets/${targetId}/health-policy`;
  const put = (payload: unknown) =>
    test.app.inject({ method: 'PUT', url, headers: bearer(token), payload: payload as object });
  t.equal((await get(url)).statusCode, 404, 'none before it is set');
  const unknownCheck = await put({ thresholds: { 'maintenance.nope': { x: 1 } } });
  t.equal(unknownCheck.statusCode, 400);
  t.equal(unknownCheck.json().code, 'PGS_INVALID_THRESHOLDS');
  const unknownKey = await put({ thresholds: { 'performance.long_queries': { minutes: 1 } } });
  t.equal(unknownKey.json().code, 'PGS_INVALID_THRESHOLDS');
  t.match(unknownKey.json().detail, /takes seconds/);
  t.equal((await put({ schedule: 'every day' })).json().code, 'PGS_INVALID_SCHEDULE');
  t.equal((await put({ schedule: '0 3 * * *', timezone: 'Mars/Base' })).json().code, 'PGS_INVALID_TIMEZONE');
  const set = await put({
    thresholds: { 'performance.long_queries': { seconds: 30 } },
    schedule: '0 3 * * *',
    keepDays: 7,
  });
  t.equal(set.statusCode, 200, set.body);
  t.equal(set.json().effectiveThresholds['performance.long_queries'].seconds, 30);
  t.equal(set.json().effectiveThresholds['performance.idle_in_transaction'].seconds, 60, 'PgHero default');
  t.equal(set.json().effectiveThresholds['performance.unused_indexes'].minSizeBytes, 10 * 1024 * 1024);
  t.ok(set.json().nextTick, 'the next scheduled report');
  t.equal((await get(url)).json().keepDays, 7);
  t.equal((await test.app.inject({ method: 'DELETE', url, headers: bearer(token) })).statusCode, 204);
  t.equal((await get(url)).statusCode, 404);
});

t.test("another tenant's target and report answer 404, and its fleet view is its own", async (t) => {
  for (const url of [
    `/v1/health-reports/${first.id}`,
    `/v1/targets/${targetId}/health-reports/latest`,
    `/v1/targets/${targetId}/health-reports`,
    `/v1/targets/${targetId}/health-policy`,
  ]) {
    t.equal((await get(url, otherToken)).statusCode, 404, url);
  }
  const post = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/health-reports`,
    headers: bearer(otherToken),
  });
  t.equal(post.statusCode, 404);
  t.equal(post.json().code, 'PGS_TARGET_NOT_FOUND');
  const put = await test.app.inject({
    method: 'PUT',
    url: `/v1/targets/${targetId}/health-policy`,
    headers: bearer(otherToken),
    payload: {},
  });
  t.equal(put.statusCode, 404);
  t.same((await get('/v1/health', otherToken)).json().items, []);
});

t.test('scopes: reading needs health:read, starting needs health:write', async (t) => {
  const reader = test.token('acme', ['health:read']);
  const post = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/health-reports`,
    headers: bearer(reader),
  });
  t.equal(post.statusCode, 403);
  t.equal(post.json().code, 'PGS_MISSING_SCOPE');
  t.equal((await get('/v1/health', test.token('acme', ['targets:read']))).statusCode, 403);
});

t.test('starting a report is audited', async (t) => {
  const rows = await test.db.ownerQuery<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = 'acme' AND resource LIKE $1",
    [`targets/${targetId}/health-reports`],
  );
  t.ok((rows[0]?.n ?? 0) >= 2, 'one audit row per POST');
});

t.test('the leader queues scheduled reports once per due tick, and prunes history past keepDays', async (t) => {
  await test.app.inject({
    method: 'PUT',
    url: `/v1/targets/${targetId}/health-policy`,
    headers: bearer(token),
    payload: { schedule: '* * * * *', keepDays: 1 },
  });
  await test.db.ownerQuery("UPDATE health_policies SET last_tick = now() - interval '5 minutes' WHERE target_id = $1", [
    targetId,
  ]);
  const now = new Date();
  t.equal(await scheduleDueReports(test.db.appPool, now, silent), 1, 'one report for the due tick');
  t.equal(await scheduleDueReports(test.db.appPool, now, silent), 0, 'and not twice');
  const [old] = await test.db.ownerQuery<{ id: string }>(
    `INSERT INTO health_reports (tenant_id, target_id, status, finished_at, created_at)
     VALUES ('acme', $1, 'pass', now() - interval '3 days', now() - interval '3 days') RETURNING id`,
    [targetId],
  );
  t.ok((await pruneReportHistory(test.db.appPool)) >= 1, 'the old report is pruned');
  const left = await test.db.ownerQuery('SELECT 1 FROM health_reports WHERE id = $1', [old?.id]);
  t.equal(left.length, 0);
  t.equal((await get(`/v1/health-reports/${first.id}`)).statusCode, 200, 'recent reports stay');
});
