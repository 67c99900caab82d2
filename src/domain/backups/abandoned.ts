import { inTenantScope, type Sql } from '../../db/tenant-scope.js';
import type { PeriodicPass } from '../../schedules/leader.js';
import { TaskFailures } from '../../task-failures.js';
import type { CapabilityDeps } from '../capability.js';
import { removeBackupObjects } from './run-backup.js';

/**
 * Backups whose job ended without its task ever settling them: a job cancelled while still queued (its
 * task never ran), or failed by the reaper after its last attempt's worker died. Such a backup stayed
 * `pending` or `running` for ever, and could not be deleted (a pending backup is not deletable). They end
 * `failed`, with the job's own error (a cancel records PGS_CANCELLED, as a cancelled running backup does).
 * The job's status is final, so no attempt can still write to the backup: nothing races this update.
 */
const settleAbandoned = (cancelled: { code: string; message: string }): Sql => ({
  text: `UPDATE backups b
            SET status = 'failed', artifact_key = NULL, globals = NULL, completed_at = now(),
                error = CASE WHEN j.status = 'cancelled' OR j.error IS NULL THEN $1::jsonb ELSE j.error END
           FROM jobs j
          WHERE j.id = b.job_id AND b.status IN ('pending', 'running') AND j.status IN ('cancelled', 'failed')
         RETURNING b.id, b.tenant_id, b.target_id, b.status`,
  values: [JSON.stringify(cancelled)],
});

interface SettledRow {
  id: string;
  tenant_id: string;
  target_id: string | null;
}

/** Settles every abandoned backup, then removes what a dead attempt left under their ids. */
export async function settleAbandonedBackups(deps: Pick<CapabilityDeps, 'pool' | 'services'>): Promise<string[]> {
  const cancelled = TaskFailures.cancelled('backup');
  const settled = await inTenantScope(deps.pool, { allTenants: true }, (tx) =>
    tx.rows<SettledRow>(settleAbandoned({ code: cancelled.code, message: cancelled.message })),
  );
  // Best effort, as when a task fails: deleting the backup removes whatever is still there.
  for (const row of settled) await removeBackupObjects(deps.services.storage, row);
  return settled.map((r) => r.id);
}

export const abandonedBackupsPass: PeriodicPass<CapabilityDeps> = {
  name: 'abandoned-backups',
  everyMs: 10_000,
  async run(deps, _now, log) {
    const settled = await settleAbandonedBackups(deps);
    if (settled.length > 0) log.info({ backups: settled }, 'backups whose job ended unsettled are now failed');
  },
};
