import fc from 'fast-check';
import t from 'tap';
import {
  estimateRewrite,
  fitsWindow,
  maintenanceStatement,
  needsWindow,
  nextWindowAfter,
  openWindowAt,
  overrunReason,
  REWRITE_BYTES_PER_SECOND,
  WINDOW_MARGIN_SECONDS,
} from '../../src/domain/maintenance/plan.js';

const opts = { verbose: false, concurrently: true };
const users = { schema: 'public', name: 'users' };

t.test('each action is one statement on one quoted table', async (t) => {
  t.equal(maintenanceStatement('vacuum', opts, users), 'VACUUM "public"."users"');
  t.equal(maintenanceStatement('vacuum_analyze', opts, users), 'VACUUM (ANALYZE) "public"."users"');
  t.equal(maintenanceStatement('analyze', { ...opts, verbose: true }, users), 'ANALYZE (VERBOSE) "public"."users"');
  t.equal(
    maintenanceStatement('vacuum_full', { ...opts, verbose: true }, users),
    'VACUUM (FULL, VERBOSE) "public"."users"',
  );
  t.equal(maintenanceStatement('reindex', opts, users), 'REINDEX TABLE CONCURRENTLY "public"."users"');
  t.equal(maintenanceStatement('reindex', { ...opts, concurrently: false }, users), 'REINDEX TABLE "public"."users"');
  t.equal(
    maintenanceStatement('vacuum', opts, { schema: 'we"ird', name: 'a; DROP TABLE x' }),
    'VACUUM "we""ird"."a; DROP TABLE x"',
  );
});

t.test('any name stays one quoted identifier pair', async () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1 }).filter((s) => !s.includes('\0')),
      fc.string({ minLength: 1 }).filter((s) => !s.includes('\0')),
      (schema, name) => {
        const sql = maintenanceStatement('vacuum_full', opts, { schema, name });
        const rel = sql.slice('VACUUM (FULL) '.length);
        // Undo the quoting: two quoted parts joined by a dot, nothing else.
        const m = /^"((?:[^"]|"")*)"\."((?:[^"]|"")*)"$/.exec(rel);
        return m !== null && m[1]?.replaceAll('""', '"') === schema && m[2]?.replaceAll('""', '"') === name;
      },
    ),
  );
});

t.test('only VACUUM FULL and plain REINDEX need the window', async (t) => {
  t.ok(needsWindow('vacuum_full', { concurrently: false }));
  t.ok(needsWindow('reindex', { concurrently: false }));
  t.notOk(needsWindow('reindex', { concurrently: true }));
  for (const a of ['vacuum', 'vacuum_analyze', 'analyze'] as const) t.notOk(needsWindow(a, { concurrently: false }));
});

t.test('a window is open from its tick for its duration, in its time zone', async (t) => {
  const spec = { schedule: '0 2 * * *', timezone: 'Europe/Berlin', durationMinutes: 90 };
  // 02:00 in Berlin in January is 01:00 UTC.
  t.same(openWindowAt(spec, new Date('2026-01-10T01:00:00Z')), {
    start: new Date('2026-01-10T01:00:00Z'),
    end: new Date('2026-01-10T02:30:00Z'),
  });
  t.ok(openWindowAt(spec, new Date('2026-01-10T02:29:59Z')));
  t.equal(openWindowAt(spec, new Date('2026-01-10T02:30:00Z')), null, 'closed at its end');
  t.equal(openWindowAt(spec, new Date('2026-01-10T00:59:59Z')), null, 'not yet open');
  t.same(nextWindowAfter(spec, new Date('2026-01-10T02:30:00Z'))?.start, new Date('2026-01-11T01:00:00Z'));
});

t.test('the estimate is the size at the documented throughput, plus the margin', async (t) => {
  const e = estimateRewrite([{ totalBytes: 10 * REWRITE_BYTES_PER_SECOND }, { totalBytes: 1 }]);
  t.same(e, {
    totalBytes: 10 * REWRITE_BYTES_PER_SECOND + 1,
    tables: 2,
    estimatedSeconds: 11,
    bytesPerSecond: REWRITE_BYTES_PER_SECOND,
    marginSeconds: WINDOW_MARGIN_SECONDS,
  });
  const now = new Date('2026-01-10T01:00:00Z');
  const end = (s: number) => new Date(now.getTime() + s * 1000);
  t.ok(fitsWindow(e, now, end(11 + WINDOW_MARGIN_SECONDS)));
  t.notOk(fitsWindow(e, now, end(10 + WINDOW_MARGIN_SECONDS)));
  const why = overrunReason('VACUUM FULL', e, now, end(30));
  t.match(
    why,
    /VACUUM FULL of 2 tables \(160\.0 MiB by pg_total_relation_size\) is estimated at 11 s \(at 16\.0 MiB\/s\)/,
  );
  t.match(why, /closes in 30 s/);
});
