import pg from 'pg';
import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';
import {
  check,
  grantReportPrivileges,
  HEALTH_SCOPES,
  healthTarget,
  ownedDatabase,
  revokeReportPrivileges,
  runReport,
  setThresholds,
  waitForDeadTuples,
} from './fixtures.js';

// Issue 10's acceptance: every check the issue lists passes on a clean database and fails or warns on
// one set up to violate it, against the harness's real PostgreSQL (TLS, scram, hostssl loopback lines).

const test = await buildTestApp(t, {}, { worker: true });
await test.seedTenants('acme');
const token = test.token('acme', [...HEALTH_SCOPES]);

const FLIPPED = [
  'maintenance.dead_tuples',
  'maintenance.sequence_overflow',
  'performance.unused_indexes',
  'performance.duplicate_indexes',
  'performance.idle_in_transaction',
  'performance.long_queries',
  'security.public_schema_create',
  'security.target_role_superuser',
];

t.test('a clean database passes every check the acceptance list names, and the privileged reads', async (t) => {
  const db = await ownedDatabase(t, test.db.cluster);
  await grantReportPrivileges(db.admin, db.role);
  await db.admin.query('CREATE TABLE items (id bigserial PRIMARY KEY, note text)');
  await db.admin.query(`ALTER TABLE items OWNER TO ${db.role}`);
  const targetId = await healthTarget(test, token, db, 'clean');
  const report = await runReport(test, token, targetId);
  for (const id of [
    ...FLIPPED,
    'security.ssl',
    'security.ssl_connections',
    'security.password_encryption',
    'security.md5_passwords',
    'security.hba_auth_methods',
    'security.hba_open_ranges',
    'security.hba_hostssl',
    'security.hba_all_all',
    'maintenance.xid_wraparound',
    'performance.invalid_indexes',
  ]) {
    t.equal(check(report, id).status, 'pass', `${id} passes: ${check(report, id).summary}`);
  }
  t.equal(report.server?.pgMonitor, true, 'the report says the role has pg_monitor');
  t.equal(report.checks.length, new Set(report.checks.map((c) => c.id)).size, 'check ids are unique');
});

t.test('a database set up to violate them warns or fails on each', async (t) => {
  const db = await ownedDatabase(t, test.db.cluster, { superuser: true });
  const targetId = await healthTarget(test, token, db, 'violated');
  await setThresholds(test, token, targetId, {
    'performance.unused_indexes': { minSizeBytes: 0 },
    'performance.idle_in_transaction': { seconds: 1 },
    'performance.long_queries': { seconds: 1 },
  });
  const a = db.admin;
  await a.query('CREATE TABLE churn (id int PRIMARY KEY, v int, w int) WITH (autovacuum_enabled = false)');
  await a.query('INSERT INTO churn SELECT g, g, g FROM generate_series(1, 5000) g');
  await a.query('UPDATE churn SET v = v + 1');
  await a.query('CREATE INDEX churn_w ON churn (w)');
  await a.query('CREATE INDEX churn_w_again ON churn (w)');
  await a.query('CREATE SEQUENCE nearly_out MAXVALUE 100');
  await a.query("SELECT setval('nearly_out', 95)");
  await a.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
  await waitForDeadTuples(a, 'churn', 5000);

  const idle = new pg.Client(test.db.cluster.clientConfig(db.name));
  const busy = new pg.Client(test.db.cluster.clientConfig(db.name));
  await Promise.all([idle.connect(), busy.connect()]);
  t.teardown(async () => {
    await idle.end().catch(() => {});
    await busy.end().catch(() => {});
  });
  await idle.query('BEGIN');
  await idle.query('SELECT count(*) FROM churn');
  const sleeping = busy.query('SELECT pg_sleep(60)').catch(() => {});
  await new Promise((r) => setTimeout(r, 1500));

  const report = await runReport(test, token, targetId);
  await a.query(
    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND datname = current_database()",
  );
  await sleeping;

  const expect: Record<string, string[]> = {
    'maintenance.dead_tuples': ['warn'],
    'maintenance.sequence_overflow': ['warn', 'fail'],
    'performance.unused_indexes': ['warn'],
    'performance.duplicate_indexes': ['warn'],
    'performance.idle_in_transaction': ['warn'],
    'performance.long_queries': ['warn'],
    'security.public_schema_create': ['fail'],
    'security.target_role_superuser': ['fail'],
    'security.superuser_logins': ['warn'],
  };
  for (const [id, statuses] of Object.entries(expect)) {
    const c = check(report, id);
    t.ok(statuses.includes(c.status), `${id} is ${statuses.join(' or ')}: ${c.status}, ${c.summary}`);
    t.not(c.remediation, '', `${id} says what to change`);
  }
  const dead = check(report, 'maintenance.dead_tuples');
  t.match(dead.evidence[0], { table: 'public.churn', autovacuumEnabled: false }, 'the evidence names the table');
  t.ok(Number(dead.evidence[0]?.deadTuples) >= 5000, 'with its dead tuples');
  t.match(dead.remediation, /RESET \(autovacuum_enabled\)/, 'and says to turn autovacuum back on');
  t.match(check(report, 'performance.duplicate_indexes').evidence[0], {
    index: 'churn_w_again',
    covered_by: 'churn_w',
  });
  t.match(check(report, 'maintenance.sequence_overflow').evidence[0], { name: 'nearly_out' });
  t.ok(
    check(report, 'performance.unused_indexes').evidence.some((e) => e.index === 'churn_w'),
    'the unused index is named',
  );
  t.match(check(report, 'performance.long_queries').evidence, [{ query: 'SELECT pg_sleep(60)' }]);
  t.equal(report.status, 'fail', 'the overall status is the worst check status');
  t.ok((report.counts.fail ?? 0) >= 2 && (report.counts.warn ?? 0) >= 5, 'the counts add the checks up');
});

t.test('a role without pg_monitor gets unknown, with the privilege it lacks, never a pass', async (t) => {
  const db = await ownedDatabase(t, test.db.cluster);
  await grantReportPrivileges(db.admin, db.role);
  await revokeReportPrivileges(db.admin, db.role);
  const targetId = await healthTarget(test, token, db, 'unprivileged');
  // Another role's session (the superuser's, idle in a transaction well past the threshold), which a
  // role without pg_read_all_stats sees with no state.
  await setThresholds(test, token, targetId, { 'performance.idle_in_transaction': { seconds: 1 } });
  const other = new pg.Client(test.db.cluster.clientConfig(db.name));
  await other.connect();
  t.teardown(() => other.end().catch(() => {}));
  await other.query('BEGIN');
  await other.query('SELECT 1');
  await new Promise((r) => setTimeout(r, 1500));
  const report = await runReport(test, token, targetId);
  for (const [id, reason] of [
    ['performance.idle_in_transaction', /pg_monitor/],
    ['performance.long_queries', /pg_monitor/],
    ['security.ssl_connections', /pg_monitor/],
    ['security.hba_auth_methods', /pg_hba_file_rules/],
    ['security.hba_open_ranges', /pg_hba_file_rules/],
    ['security.md5_passwords', /superuser/],
  ] as const) {
    const c = check(report, id);
    t.equal(c.status, 'unknown', `${id} is unknown`);
    t.match(c.summary, reason, `${id} names what to grant: ${c.summary}`);
  }
  t.equal(report.server?.pgMonitor, false);
  t.not(report.status, 'pass', 'a report with unknown checks never passes');
});

t.test('a report closes its session on the target when it is done', async (t) => {
  const db = await ownedDatabase(t, test.db.cluster);
  const targetId = await healthTarget(test, token, db, 'readonly');
  await runReport(test, token, targetId);
  const sessions = await db.admin.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgsteward' AND datname = current_database()",
  );
  t.equal(sessions.rows[0].n, 0, 'the report closed its session');
  const res = await test.app.inject({
    method: 'GET',
    url: `/v1/targets/${targetId}/health-reports/latest`,
    headers: bearer(token),
  });
  t.equal(res.statusCode, 200);
});
