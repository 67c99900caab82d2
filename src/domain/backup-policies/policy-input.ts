import { Errors } from '../../errors.js';
import { parseSchedule } from '../../schedules/cron.js';
import { type BackupOptionsInput, normaliseBackupOptions } from '../backups/options.js';
import { RETENTION_RULES, type Retention } from '../retention/plan.js';
import type { PolicyFields } from './queries.js';

export interface BackupPolicyInput {
  schedule: string;
  timezone?: string | undefined;
  options?: BackupOptionsInput | undefined;
  retention?: { [K in keyof Retention]?: number | null } | undefined;
  verifyEvery?: number | null | undefined;
  enabled?: boolean | undefined;
}

const MAX_KEEP = 1000;
const MAX_AGE_DAYS = 36_500;

/**
 * Validate a policy as REST and GraphQL send it: the schedule and zone as drills check them, the options
 * exactly as POST .../backups checks them, and the retention counts. A retention of {} keeps everything.
 */
export function normalisePolicyInput(input: BackupPolicyInput): PolicyFields {
  const timezone = input.timezone ?? 'UTC';
  parseSchedule(input.schedule, timezone);
  const retention: Retention = {};
  for (const rule of [...RETENTION_RULES, 'maxAgeDays'] as const) {
    const value = input.retention?.[rule];
    if (value === undefined || value === null) continue;
    const [min, max] = rule === 'maxAgeDays' ? [1, MAX_AGE_DAYS] : [0, MAX_KEEP];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw Errors.validation(`retention.${rule} must be a whole number from ${min} to ${max}`);
    }
    retention[rule] = value;
  }
  const verifyEvery = input.verifyEvery ?? null;
  if (verifyEvery !== null && (!Number.isInteger(verifyEvery) || verifyEvery < 1 || verifyEvery > 1000)) {
    throw Errors.validation('verifyEvery must be a whole number from 1 to 1000');
  }
  return {
    schedule: input.schedule.trim(),
    timezone,
    options: normaliseBackupOptions(input.options ?? {}),
    retention,
    verifyEvery,
    enabled: input.enabled ?? true,
  };
}
