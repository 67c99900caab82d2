import type pg from 'pg';
import { inTenantScope } from '../db/tenant-scope.js';
import type { PeriodicPass } from '../schedules/leader.js';
import type { CapabilityDeps } from './capability.js';

/**
 * A record (a backup, a health report, a maintenance run) whose job ended without its task settling it:
 * the job was cancelled while still queued (its task never ran), or the reaper failed it after its last
 * attempt's worker died. Left alone, the record says `pending` or `running` for ever. The job's status is
 * final, so no attempt can still write to the record: nothing races the update.
 */
export interface AbandonedWork {
  /** The record's table, and its column holding the job's id. Constants, never input. */
  table: string;
  jobColumn: string;
  /** The record's statuses that mean "not finished". */
  open: string[];
  /** The SET list that ends it; `j` is the job. Its error is set apart (see errorColumn). */
  settle: string;
  errorColumn: string;
}

/**
 * Ends every abandoned record of one kind: its error is `cancelled` for a cancelled job, else the job's
 * own error (PGS_LEASE_EXPIRED for a dead worker). Answers the settled rows.
 */
export async function settleAbandoned<R extends { id: string }>(
  pool: pg.Pool,
  work: AbandonedWork,
  cancelled: { code: string; message: string },
  returning: string,
): Promise<R[]> {
  // Written into the statement, not bound, so the planner can match each table's partial index of open
  // records (migration 0015) whatever plan it makes. Constants of this codebase, never input.
  if (!work.open.every((status) => /^[a-z_]+$/.test(status))) throw new Error('open statuses must be plain words');
  const open = work.open.map((status) => `'${status}'`).join(', ');
  return inTenantScope(pool, { allTenants: true }, (tx) =>
    tx.rows<R>({
      text: `UPDATE ${work.table} s
                SET ${work.settle},
                    ${work.errorColumn} = CASE WHEN j.status = 'cancelled' OR j.error IS NULL THEN $1::jsonb ELSE j.error END
               FROM jobs j
              WHERE j.id = s.${work.jobColumn} AND s.status IN (${open}) AND j.status IN ('cancelled', 'failed')
             RETURNING ${returning}`,
      values: [JSON.stringify({ code: cancelled.code, message: cancelled.message })],
    }),
  );
}

/** A leader pass settling one kind of record, every 10 s. */
export const abandonedWorkPass = (
  name: string,
  settle: (deps: CapabilityDeps) => Promise<string[]>,
): PeriodicPass<CapabilityDeps> => ({
  name,
  everyMs: 10_000,
  async run(deps, _now, log) {
    const settled = await settle(deps);
    if (settled.length > 0) log.info({ pass: name, settled }, 'work whose job ended unsettled is now failed');
  },
});
