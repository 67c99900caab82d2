import t from 'tap';
import { redactQuery } from '../../src/domain/health/checks/evidence.js';
import { CHECKS, effectiveThresholds, runChecks, thresholdProblems } from '../../src/domain/health/checks/index.js';
import type { CheckContext, CheckResult } from '../../src/domain/health/checks/types.js';
import { worstStatus } from '../../src/domain/health/checks/types.js';
import { deadTupleChart, renderText, TEXT_MAX_LINES } from '../../src/domain/health/render.js';
import { countByStatus, type HealthReport } from '../../src/domain/health/report.js';
import type { ServerSnapshot } from '../../src/domain/health/snapshot.js';

const rows = (r: Record<string, unknown>[]) => ({ ok: true as const, rows: r });
const empty = rows([]);

function snapshot(over: Partial<ServerSnapshot> = {}): ServerSnapshot {
  return {
    info: {
      num: 150018,
      version: '15.18',
      started_at: new Date(),
      uptime_seconds: 10,
      database: 'db',
      role: 'app',
      in_recovery: false,
      superuser: false,
      pg_monitor: true,
      read_all_stats: true,
      read_all_settings: true,
      replay_lag_seconds: null,
    },
    settings: new Map([
      ['ssl', 'on'],
      ['password_encryption', 'scram-sha-256'],
      ['log_statement', 'ddl'],
      ['log_connections', 'on'],
      ['log_disconnections', 'on'],
      ['max_connections', '100'],
      ['data_checksums', 'on'],
      ['archive_mode', 'off'],
    ]),
    topDeadTuples: empty,
    deadTupleRatios: empty,
    tableBloat: empty,
    databaseAges: rows([{ name: 'db', age: 1000 }]),
    oldestTables: empty,
    sequences: empty,
    invalidIndexes: empty,
    duplicateIndexes: empty,
    unusedIndexes: empty,
    invalidConstraints: empty,
    cacheHits: rows([{ table_hit: 0, table_read: 0, index_hit: 0, index_read: 0 }]),
    activity: empty,
    slowStatements: null,
    replicationSlots: empty,
    hbaRules: rows([
      {
        line_number: 1,
        type: 'hostssl',
        database: ['all'],
        user_name: ['all'],
        address: '127.0.0.1',
        netmask: '255.255.255.255',
        auth_method: 'scram-sha-256',
        error: null,
      },
    ]),
    loginRoles: empty,
    md5Roles: empty,
    publicCreate: empty,
    archiver: rows([{ archived: 0, failed: 0, last_archived_at: null, last_failed_at: null }]),
    ...over,
  };
}

const ctx = (over: Partial<ServerSnapshot> = {}, rest: Partial<CheckContext> = {}): CheckContext => ({
  snapshot: snapshot(over),
  thresholds: effectiveThresholds(),
  posture: {
    newestBackupAt: new Date(),
    newestDrill: { at: new Date(), verified: true, backupId: 'b' },
    failedJobs: [],
  },
  history: [],
  now: new Date(),
  ...rest,
});

const byId = (results: CheckResult[], id: string) => results.find((c) => c.id === id) as CheckResult;

t.test('a clean snapshot passes every check', async (t) => {
  const results = runChecks(ctx());
  t.same(
    results.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.summary}`),
    [],
  );
  t.equal(results.length, CHECKS.length);
});

t.test('the overall status is the worst, in the order fail, warn, unknown, pass', async (t) => {
  t.equal(worstStatus(['pass', 'unknown', 'warn']), 'warn');
  t.equal(worstStatus(['unknown', 'pass']), 'unknown');
  t.equal(worstStatus(['pass', 'fail', 'warn']), 'fail');
  t.equal(worstStatus([]), 'pass');
});

t.test('a refused read is unknown with the reason, never a pass', async (t) => {
  const results = runChecks(ctx({ hbaRules: { ok: false, missing: 'grant it' }, settings: new Map() }));
  t.match(byId(results, 'security.hba_open_ranges'), { status: 'unknown', summary: /grant it/ });
  t.match(byId(results, 'security.ssl'), { status: 'unknown', summary: /pg_read_all_settings/ });
  t.match(byId(results, 'security.auditing'), { status: 'unknown' });
});

t.test('autovacuum falling behind: dead tuples growing across the last reports, last autovacuum old', async (t) => {
  const top = rows([
    { schema: 'public', name: 'orders', dead: 900, live: 1000, last_autovacuum: null, autovacuum_off: false },
  ]);
  const history = [
    { finishedAt: new Date(), tables: [{ table: 'public.orders', deadTuples: 600 }] },
    { finishedAt: new Date(), tables: [{ table: 'public.orders', deadTuples: 300 }] },
  ];
  t.match(byId(runChecks(ctx({ topDeadTuples: top }, { history })), 'maintenance.autovacuum_behind'), {
    status: 'warn',
    evidence: [{ table: 'public.orders' }],
  });
  const shrinking = [history[1], history[0]] as typeof history;
  t.equal(
    byId(runChecks(ctx({ topDeadTuples: top }, { history: shrinking })), 'maintenance.autovacuum_behind').status,
    'pass',
  );
  const recent = rows([
    { schema: 'public', name: 'orders', dead: 900, live: 1000, last_autovacuum: new Date(), autovacuum_off: false },
  ]);
  t.equal(byId(runChecks(ctx({ topDeadTuples: recent }, { history })), 'maintenance.autovacuum_behind').status, 'pass');
  t.match(
    byId(runChecks(ctx({ topDeadTuples: top }, { history: [] })), 'maintenance.autovacuum_behind').summary,
    /Not enough history/,
  );
});

t.test('backup posture: no backup fails, a drill that did not verify fails, none at all warns', async (t) => {
  const none = runChecks(
    ctx({}, { posture: { newestBackupAt: null, newestDrill: null, failedJobs: [{ kind: 'backup', count: 2 }] } }),
  );
  t.equal(byId(none, 'backups.newest_backup').status, 'fail');
  t.match(byId(none, 'backups.restore_drills'), { status: 'warn', summary: /never restored is not a backup/ });
  t.match(byId(none, 'backups.failed_jobs'), { status: 'warn', evidence: [{ kind: 'backup', failed: 2 }] });
  const bad = runChecks(
    ctx(
      {},
      {
        posture: {
          newestBackupAt: new Date(Date.now() - 48 * 3600_000),
          newestDrill: { at: new Date(), verified: false, backupId: 'b1' },
          failedJobs: [],
        },
      },
    ),
  );
  t.equal(byId(bad, 'backups.newest_backup').status, 'warn');
  t.equal(byId(bad, 'backups.restore_drills').status, 'fail');
});

t.test('thresholds: only known check ids and keys, numbers of at least 0', async (t) => {
  t.same(thresholdProblems({ 'performance.long_queries': { seconds: 5 } }), []);
  t.match(thresholdProblems({ nope: {} }), [/no such check/]);
  t.match(thresholdProblems({ 'performance.long_queries': { seconds: -1 } }), [/at least 0/]);
  t.match(thresholdProblems({ 'security.ssl': { x: 1 } }), [/takes no thresholds/]);
  t.equal(effectiveThresholds({ 'performance.long_queries': { seconds: 5 } })['performance.long_queries']?.seconds, 5);
});

t.test('query text in evidence has its string literals blanked', async (t) => {
  t.equal(redactQuery("ALTER ROLE x PASSWORD 'hunter2'"), "ALTER ROLE x PASSWORD '?'");
  t.equal(redactQuery("SELECT 'it''s' , $$body$$"), "SELECT '?' , $$?$$");
  t.equal(redactQuery(null), null);
});

const report = (checks: CheckResult[]): HealthReport => ({
  id: 'r',
  targetId: 't',
  jobId: null,
  status: worstStatus(checks.map((c) => c.status)),
  startedAt: null,
  finishedAt: '2026-01-01T00:00:00.000Z',
  server: null,
  counts: countByStatus(checks),
  checks,
  error: null,
  createdAt: '2026-01-01T00:00:00.000Z',
});

t.test('the text form is at most 15 lines, worst first, with the target and counts', async (t) => {
  const many = Array.from(
    { length: 40 },
    (_, i): CheckResult => ({
      id: `c${i}`,
      category: 'performance',
      status: (['warn', 'fail', 'unknown', 'pass'] as const)[i % 4] as CheckResult['status'],
      summary: 'x'.repeat(500),
      evidence: [],
      remediation: '',
    }),
  );
  const lines = renderText(report(many), 'db1').trimEnd().split('\n');
  t.equal(lines.length, TEXT_MAX_LINES);
  t.match(lines[0], /^db1: FAIL \(10 fail, 10 warn, 10 unknown, 10 pass\)/);
  t.match(lines[1], /^FAIL /);
  t.match(lines[14], /more not passing/);
  t.ok(
    lines.every((l) => l.length < 300),
    'long summaries are cut',
  );
  t.match(renderText(report([]), 'db1'), /^db1: PASS/);
});

t.test('the SVG chart escapes table names and draws one line per top table', async (t) => {
  const svg = deadTupleChart([
    { at: 'a', tables: [{ table: 'public."<b>"', deadTuples: 5 }] },
    { at: 'b', tables: [{ table: 'public."<b>"', deadTuples: 9 }] },
  ]);
  t.notMatch(svg, /<b>/);
  t.equal((svg.match(/<polyline/g) ?? []).length, 1);
  t.match(deadTupleChart([]), /No dead tuples/);
});
