import { Cron } from 'croner';
import { Errors } from '../errors.js';

/**
 * Every schedule a tenant sets (drills now; backup policies, health policies and maintenance windows
 * next): standard five-field cron (minute hour day-of-month month day-of-week) or one of the nicknames,
 * evaluated in an IANA time zone by croner. A seconds field is refused on purpose: each tick starts
 * heavy work (a drill restores a whole database), and a schedule that could fire every second is a
 * denial of service.
 */
const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** An IANA zone name Intl knows (e.g. Europe/Berlin, UTC); throws PGS_INVALID_TIMEZONE otherwise. */
export function assertTimezone(timezone: string): void {
  if (timezone.length === 0 || timezone.length > 100) throw Errors.invalidTimezone(timezone);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw Errors.invalidTimezone(timezone);
  }
}

/** Parse a schedule in its zone; throws PGS_INVALID_SCHEDULE (or PGS_INVALID_TIMEZONE). */
export function parseSchedule(schedule: string, timezone: string): Cron {
  assertTimezone(timezone);
  const trimmed = schedule.trim();
  const fields = trimmed.split(/\s+/);
  const isNickname = fields.length === 1 && NICKNAMES.has(trimmed.toLowerCase());
  if (schedule.length > 200 || (!isNickname && fields.length !== 5)) {
    throw Errors.invalidSchedule(schedule, 'use five fields (minute hour day-of-month month day-of-week) or @daily');
  }
  try {
    return new Cron(trimmed, { timezone, paused: true });
  } catch (err) {
    throw Errors.invalidSchedule(schedule, (err as Error).message.replace(/^CronPattern: /, ''));
  }
}

/**
 * The tick to act on now: the latest scheduled time at or before `now` that is after `since`, or null
 * when none is due. Missed ticks (the leader was down) coalesce into this one: drilling the newest
 * backup several times over proves nothing more, and neither does a burst of catch-up backups.
 */
export function dueTick(cron: Cron, since: Date, now: Date): Date | null {
  const [latest] = cron.previousRuns(1, now);
  return latest !== undefined && latest > since ? latest : null;
}

/** The next scheduled time after `after`, or null if the schedule never fires again. */
export const nextTick = (cron: Cron, after: Date): Date | null => cron.nextRun(after);
