import fc from 'fast-check';
import t from 'tap';
import { compareTables, scratchDatabaseName } from '../../src/domain/drills/verification.js';
import { dueTick, nextTick, parseSchedule } from '../../src/schedules/cron.js';

t.test('compareTables judges recorded counts and lists what the record does not know', async (t) => {
  const { tables, mismatches } = compareTables(
    [
      { schema: 'public', name: 'same', rows: 3 },
      { schema: 'public', name: 'more', rows: 5 },
      { schema: 'public', name: 'gone', rows: 0 },
      { schema: 'public', name: 'schema_only', rows: null },
    ],
    [
      { schema: 'public', name: 'same', rows: 3 },
      { schema: 'public', name: 'more', rows: 4 },
      { schema: 'public', name: 'schema_only', rows: 9 },
      { schema: 'extra', name: 'new', rows: 1 },
    ],
  );
  t.same(mismatches, ['public.more', 'public.gone']);
  t.same(tables, [
    { schema: 'public', name: 'same', expectedRows: 3, actualRows: 3 },
    { schema: 'public', name: 'more', expectedRows: 5, actualRows: 4 },
    { schema: 'public', name: 'gone', expectedRows: 0, actualRows: null },
    { schema: 'public', name: 'schema_only', expectedRows: null, actualRows: 9 },
    { schema: 'extra', name: 'new', expectedRows: null, actualRows: 1 },
  ]);
});

t.test('a schema and table name cannot be confused by a dot inside a name', async (t) => {
  const { mismatches } = compareTables(
    [{ schema: 'a.b', name: 'c', rows: 1 }],
    [{ schema: 'a', name: 'b.c', rows: 1 }],
  );
  t.same(mismatches, ['a.b.c'], 'a different table, so the recorded one is missing');
});

t.test('scratch database names are derived from the job id and stay short and lower-case', async (t) => {
  fc.assert(
    fc.property(fc.uuid(), (id) => {
      const name = scratchDatabaseName(id.toUpperCase());
      return name === scratchDatabaseName(id) && /^pgsteward_drill_[0-9a-f]{16}$/.test(name) && name.length <= 63;
    }),
  );
  t.pass('the property held');
});

t.test('dueTick is the latest tick after the last one acted on, or null', async (t) => {
  const hourly = parseSchedule('0 * * * *', 'UTC');
  const now = new Date('2025-03-10T12:34:56Z');
  t.same(
    dueTick(hourly, new Date('2025-03-10T09:15:00Z'), now),
    new Date('2025-03-10T12:00:00Z'),
    'missed ticks coalesce',
  );
  t.equal(dueTick(hourly, new Date('2025-03-10T12:00:00Z'), now), null, 'already acted on');
  t.same(nextTick(hourly, now), new Date('2025-03-10T13:00:00Z'));
  const berlin = parseSchedule('0 3 * * *', 'Europe/Berlin');
  t.same(nextTick(berlin, now), new Date('2025-03-11T02:00:00Z'), '03:00 CET');
  t.same(nextTick(berlin, new Date('2025-07-01T00:00:00Z')), new Date('2025-07-01T01:00:00Z'), '03:00 CEST');
  t.ok(parseSchedule('@Weekly', 'UTC'), 'nicknames in any case');
  t.throws(() => parseSchedule('x'.repeat(201), 'UTC'), { code: 'PGS_INVALID_SCHEDULE' });
  t.throws(() => parseSchedule('0 3 * *', 'UTC'), { code: 'PGS_INVALID_SCHEDULE' });
  t.throws(() => parseSchedule('0 3 * * *', ''), { code: 'PGS_INVALID_TIMEZONE' });
});
