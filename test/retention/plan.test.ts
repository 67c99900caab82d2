import fc from 'fast-check';
import t from 'tap';
import {
  isoWeekOf,
  type PlanEntry,
  planRetention,
  type Retention,
  type RetentionCandidate,
} from '../../src/domain/retention/plan.js';

const STATUSES = ['available', 'available', 'available', 'failed', 'pending', 'running', 'deleted', 'expired'];
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Pacific/Auckland'];
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const YEAR_MS = 3 * 365 * 86_400_000;

const candidate = fc.record({
  id: fc.uuid(),
  status: fc.constantFrom(...STATUSES),
  // Up to three years back, at any millisecond: histories cross days, weeks, months, years and DST shifts.
  ageMs: fc.integer({ min: 0, max: YEAR_MS }),
  scheduled: fc.boolean(),
  pinned: fc.boolean(),
  verified: fc.boolean(),
  inUse: fc.boolean(),
});
const maybe = (max: number) => fc.option(fc.integer({ min: 0, max }), { nil: undefined });
const retention: fc.Arbitrary<Retention> = fc.record({
  keepLast: maybe(10),
  keepDaily: maybe(14),
  keepWeekly: maybe(8),
  keepMonthly: maybe(12),
  keepYearly: maybe(3),
  maxAgeDays: fc.option(fc.integer({ min: 1, max: 1200 }), { nil: undefined }),
});
const history = fc
  .array(candidate, { maxLength: 40 })
  .map((cs) =>
    cs.map(
      (c): RetentionCandidate => ({
        id: c.id,
        status: c.status,
        createdAt: new Date(NOW - c.ageMs),
        scheduled: c.scheduled,
        // Rarely pinned, rarely in use, rarely verified: otherwise nearly everything is protected.
        pinned: c.pinned && c.ageMs % 7 === 0,
        verified: c.verified && c.ageMs % 5 === 0,
        inUse: c.inUse && c.ageMs % 11 === 0,
      }),
    ),
  )
  // fc.uuid can repeat across elements; ids are unique in a real history.
  .map((cs) => cs.filter((c, i) => cs.findIndex((d) => d.id === c.id) === i));

const deleted = (plan: PlanEntry[]) => new Set(plan.filter((e) => e.action === 'delete').map((e) => e.id));
const newestOf = (cs: RetentionCandidate[]) =>
  [...cs].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))[0];

t.test('retention invariants hold over 10,000 random histories', async (t) => {
  const started = Date.now();
  fc.assert(
    fc.property(history, retention, fc.constantFrom(...ZONES), (cs, r, zone) => {
      const now = new Date(NOW);
      const plan = planRetention(cs, r, zone, now);
      const gone = deleted(plan);
      const available = cs.filter((c) => c.status === 'available');
      // Only available backups are judged: the plan names exactly them, and deletes nothing else.
      if (plan.length !== available.length) return false;
      if (cs.some((c) => c.status !== 'available' && gone.has(c.id))) return false;
      // The newest available, the newest verified, pinned and in-use backups are never deleted.
      const newest = newestOf(available);
      if (newest && gone.has(newest.id)) return false;
      const newestVerified = newestOf(available.filter((c) => c.verified));
      if (newestVerified && gone.has(newestVerified.id)) return false;
      if (available.some((c) => (c.pinned || c.inUse) && gone.has(c.id))) return false;
      // Backups that are not available change nothing about the available ones' fate.
      const alone = planRetention(available, r, zone, now);
      if (JSON.stringify(alone) !== JSON.stringify(plan)) return false;
      // Deterministic: the same history in another order gives the same plan.
      const shuffled = [...cs].reverse();
      if (JSON.stringify(planRetention(shuffled, r, zone, now)) !== JSON.stringify(plan)) return false;
      // maxAgeDays: nothing younger is deleted for age, and a backup kept only by period rules is young.
      for (const e of plan) {
        const ageDays = (now.getTime() - e.createdAt.getTime()) / 86_400_000;
        if (e.action === 'delete' && e.rule === 'maxAgeDays' && !(r.maxAgeDays !== undefined && ageDays > r.maxAgeDays))
          return false;
      }
      // keepLast: the newest N available scheduled backups are kept (unless older than maxAgeDays).
      const scheduled = available
        .filter((c) => c.scheduled)
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
      const young = (c: RetentionCandidate) =>
        r.maxAgeDays === undefined || now.getTime() - c.createdAt.getTime() <= r.maxAgeDays * 86_400_000;
      for (const c of scheduled.slice(0, r.keepLast ?? 0)) if (young(c) && gone.has(c.id)) return false;
      return true;
    }),
    { numRuns: 10_000 },
  );
  t.pass(`10,000 histories in ${Date.now() - started} ms`);
});

t.test('GFS keeps the newest backup of each of the newest N periods, in the policy time zone', async (t) => {
  // Daily backups at 23:30 UTC for 40 days: in Berlin (UTC+1 in winter) each is already the next day.
  const cs: RetentionCandidate[] = [];
  for (let i = 0; i < 40; i++) {
    cs.push({
      id: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
      status: 'available',
      createdAt: new Date(Date.UTC(2026, 0, 1, 23, 30) + i * 86_400_000),
      scheduled: true,
      pinned: false,
      verified: false,
      inUse: false,
    });
  }
  const now = new Date(Date.UTC(2026, 1, 15));
  const plan = planRetention(cs, { keepDaily: 3, keepWeekly: 2, keepMonthly: 2 }, 'Europe/Berlin', now);
  const kept = plan.filter((e) => e.action === 'keep').map((e) => [e.createdAt.toISOString(), e.rules.join('+')]);
  t.same(kept, [
    ['2026-02-09T23:30:00.000Z', 'newest+keepDaily+keepWeekly+keepMonthly'], // Tue 10 Feb, 00:30 in Berlin
    ['2026-02-08T23:30:00.000Z', 'keepDaily'],
    // Sunday 8 Feb in Berlin: the newest of the previous ISO week (Mon 2 - Sun 8 Feb).
    ['2026-02-07T23:30:00.000Z', 'keepDaily+keepWeekly'],
    // 31 Jan, 00:30 in Berlin; read in UTC it would be the one a day later.
    ['2026-01-30T23:30:00.000Z', 'keepMonthly'],
  ]);
  const utc = planRetention(cs, { keepMonthly: 2 }, 'UTC', now).filter((e) => e.action === 'keep');
  t.same(
    utc.map((e) => e.createdAt.toISOString()),
    ['2026-02-09T23:30:00.000Z', '2026-01-31T23:30:00.000Z'],
  );
  t.equal(plan.filter((e) => e.action === 'delete').length, 40 - kept.length);
  t.ok(plan.filter((e) => e.action === 'delete').every((e) => e.action === 'delete' && e.rule === 'unmatched'));
});

t.test('ISO weeks: a week belongs to the year of its Thursday', async (t) => {
  t.same(isoWeekOf(2026, 1, 1), [2026, 1]); // a Thursday
  t.same(isoWeekOf(2027, 1, 1), [2026, 53]); // a Friday: the last week of 2026
  t.same(isoWeekOf(2024, 12, 30), [2025, 1]); // a Monday in week 1 of 2025
});

t.test('manual backups answer only to maxAgeDays; no rules at all keep everything', async (t) => {
  const now = new Date(Date.UTC(2026, 5, 1));
  const at = (days: number) => new Date(now.getTime() - days * 86_400_000);
  const base = { status: 'available', pinned: false, verified: false, inUse: false };
  const cs: RetentionCandidate[] = [
    { ...base, id: 'a', createdAt: at(1), scheduled: true },
    { ...base, id: 'b', createdAt: at(5), scheduled: false },
    { ...base, id: 'c', createdAt: at(40), scheduled: false },
    { ...base, id: 'd', createdAt: at(50), scheduled: true, pinned: true },
  ];
  const plan = planRetention(cs, { keepLast: 1, maxAgeDays: 30 }, 'UTC', now);
  t.same(
    plan.map((e) => (e.action === 'keep' ? `${e.id}:keep:${e.rules.join('+')}` : `${e.id}:delete:${e.rule}`)),
    ['a:keep:newest+keepLast', 'b:keep:manual', 'c:delete:maxAgeDays', 'd:keep:pinned'],
  );
  const none = planRetention(cs, {}, 'UTC', now);
  t.ok(
    none.every((e) => e.action === 'keep'),
    'an empty retention deletes nothing',
  );
});
