import { TaskFailures } from '../../task-failures.js';
import { abandonedWorkPass, settleAbandoned } from '../abandoned-work.js';
import type { CapabilityDeps } from '../capability.js';
import { removeBackupObjects } from './run-backup.js';

/**
 * Backups whose job ended unsettled (src/domain/abandoned-work.ts). A pending backup cannot be deleted,
 * so one cancelled before any worker took it stayed undeletable; one whose last worker died stayed
 * running beside whatever it had written. They end `failed` (PGS_CANCELLED, as a cancelled running
 * backup records, or the job's error), with what is under their ids removed.
 */
export async function settleAbandonedBackups(deps: Pick<CapabilityDeps, 'pool' | 'services'>): Promise<string[]> {
  const settled = await settleAbandoned<{ id: string; tenant_id: string; target_id: string | null }>(
    deps.pool,
    {
      table: 'backups',
      jobColumn: 'job_id',
      open: ['pending', 'running'],
      settle: "status = 'failed', artifact_key = NULL, globals = NULL, completed_at = now()",
      errorColumn: 'error',
    },
    TaskFailures.cancelled('backup'),
    's.id, s.tenant_id, s.target_id',
  );
  // Best effort, as when a task fails: deleting the backup removes whatever is still there.
  for (const row of settled) await removeBackupObjects(deps.services.storage, row);
  return settled.map((r) => r.id);
}

export const abandonedBackupsPass = abandonedWorkPass('abandoned-backups', settleAbandonedBackups);
