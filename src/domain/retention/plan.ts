/**
 * Retention planning: which of a target's backups a policy keeps, and by which rule. Pure and
 * deterministic (no clock, no I/O): the sweep, the dry-run endpoint and the property test all call
 * this one function with the same inputs and get the same answer.
 *
 * Grandfather-father-son, counted in the policy's time zone: for each of the newest N days (weeks,
 * months, years) that hold an available scheduled backup, the newest such backup of that period is
 * kept; keepLast keeps the newest N available scheduled backups whatever their period. maxAgeDays
 * deletes what is older, even where a period rule would keep it. Manual backups (no tick) are
 * governed by maxAgeDays alone. Whatever the rules say, these are never deleted: the newest available
 * backup, the newest one a drill verified, a pinned one, and one that a queued or running job reads.
 * Only `available` backups are judged; pending, running, failed, deleted and expired ones are outside
 * the plan (the sweep handles failed leftovers on its own).
 */

export interface Retention {
  keepLast?: number | undefined;
  keepDaily?: number | undefined;
  keepWeekly?: number | undefined;
  keepMonthly?: number | undefined;
  keepYearly?: number | undefined;
  maxAgeDays?: number | undefined;
}

export const RETENTION_RULES = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const;
export type PeriodRule = (typeof RETENTION_RULES)[number];

/** Why a backup is kept. */
export type KeepReason = PeriodRule | 'newest' | 'verified' | 'pinned' | 'in-use' | 'manual' | 'no-rules';
/** Why a backup is deleted: older than maxAgeDays, or kept by no rule. */
export type DeleteReason = 'maxAgeDays' | 'unmatched';

export interface RetentionCandidate {
  id: string;
  status: string;
  createdAt: Date;
  /** Made by a schedule (has a tick); manual backups answer only to maxAgeDays. */
  scheduled: boolean;
  pinned: boolean;
  /** The newest drill of this backup verified it. */
  verified: boolean;
  /** A queued or running job (restore, drill) reads it. */
  inUse: boolean;
}

export type PlanEntry =
  | { id: string; createdAt: Date; action: 'keep'; rules: KeepReason[] }
  | { id: string; createdAt: Date; action: 'delete'; rule: DeleteReason };

const DAY_MS = 86_400_000;

/** Newest first; the id breaks ties so equal timestamps still give one order. */
const newestFirst = (a: RetentionCandidate, b: RetentionCandidate) =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

const hasPeriodRules = (r: Retention) => RETENTION_RULES.some((rule) => (r[rule] ?? 0) > 0);

/**
 * The plan for a target's backups, newest first, one entry per available backup. `now` is the clock
 * maxAgeDays is measured against; `timezone` is the IANA zone the periods are read in.
 */
export function planRetention(
  candidates: readonly RetentionCandidate[],
  retention: Retention,
  timezone: string,
  now: Date,
): PlanEntry[] {
  const available = candidates.filter((c) => c.status === 'available').sort(newestFirst);
  const reasons = new Map<string, KeepReason[]>(available.map((c) => [c.id, []]));
  const keep = (c: RetentionCandidate, why: KeepReason) => reasons.get(c.id)?.push(why);

  const scheduled = available.filter((c) => c.scheduled);
  const keyOf = periodKeys(timezone);
  for (const rule of RETENTION_RULES) {
    const n = retention[rule] ?? 0;
    if (n <= 0) continue;
    if (rule === 'keepLast') {
      for (const c of scheduled.slice(0, n)) keep(c, rule);
      continue;
    }
    const seen = new Set<string>();
    for (const c of scheduled) {
      if (seen.size >= n) break;
      const period = keyOf(c.createdAt)[rule];
      if (seen.has(period)) continue;
      seen.add(period);
      keep(c, rule); // the newest of its period, since we walk newest first
    }
  }

  const newest = available[0];
  const newestVerified = available.find((c) => c.verified);
  const periodRules = hasPeriodRules(retention);
  const maxAgeMs = retention.maxAgeDays === undefined ? undefined : retention.maxAgeDays * DAY_MS;
  return available.map((c): PlanEntry => {
    const protectedBy: KeepReason[] = [];
    if (c === newest) protectedBy.push('newest');
    if (c === newestVerified) protectedBy.push('verified');
    if (c.pinned) protectedBy.push('pinned');
    if (c.inUse) protectedBy.push('in-use');
    const tooOld = maxAgeMs !== undefined && now.getTime() - c.createdAt.getTime() > maxAgeMs;
    let byRule = reasons.get(c.id) ?? [];
    if (!c.scheduled) byRule = tooOld ? [] : ['manual'];
    else if (!periodRules && !tooOld) byRule = ['no-rules'];
    else if (tooOld) byRule = [];
    const rules = [...protectedBy, ...byRule];
    if (rules.length > 0) return { id: c.id, createdAt: c.createdAt, action: 'keep', rules };
    return { id: c.id, createdAt: c.createdAt, action: 'delete', rule: tooOld ? 'maxAgeDays' : 'unmatched' };
  });
}

type PeriodKeys = Record<Exclude<PeriodRule, 'keepLast'>, string>;

/**
 * The day, ISO week, month and year a moment falls in, read in `timezone`. One formatter per plan: it
 * is the expensive part (the property test plans 10,000 histories).
 */
function periodKeys(timezone: string): (at: Date) => PeriodKeys {
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  return (at) => {
    let year = 0;
    let month = 0;
    let day = 0;
    for (const part of format.formatToParts(at)) {
      if (part.type === 'year') year = Number(part.value);
      else if (part.type === 'month') month = Number(part.value);
      else if (part.type === 'day') day = Number(part.value);
    }
    const [isoYear, isoWeek] = isoWeekOf(year, month, day);
    return {
      keepDaily: `${year}-${month}-${day}`,
      keepWeekly: `${isoYear}-W${isoWeek}`,
      keepMonthly: `${year}-${month}`,
      keepYearly: `${year}`,
    };
  };
}

/** ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday) of a calendar date. */
export function isoWeekOf(year: number, month: number, day: number): [number, number] {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const isoYear = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(isoYear, 0, 1)) / DAY_MS + 1) / 7);
  return [isoYear, week];
}
