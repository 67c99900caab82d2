import type { Sql } from '../../db/tenant-scope.js';

/** A backup as retention judges it: its fate depends on these columns only. */
export interface CandidateRow {
  id: string;
  tenant_id: string;
  target_id: string;
  status: string;
  created_at: Date;
  scheduled: boolean;
  pinned: boolean;
  verified: boolean;
  in_use: boolean;
}

// "Is a queued or running job reading it?" is one probe of jobs_running_backup (migration 0007) per backup.
const IN_USE = `EXISTS (SELECT 1 FROM jobs j WHERE j.subjects ->> 'backup' = b.id::text
                                            AND j.status IN ('queued', 'running'))`;

/**
 * A target's live backups, those retention has not already claimed. backups_target_created narrows
 * the scan to the target's own rows; retention keeps that set small.
 */
export const selectCandidates = (targetId: string): Sql => ({
  text: `SELECT b.id, b.tenant_id, b.target_id, b.status, b.created_at, b.tick IS NOT NULL AS scheduled, b.pinned,
                coalesce((b.last_verification ->> 'verified')::boolean, false) AS verified, ${IN_USE} AS in_use
           FROM backups b
          WHERE b.target_id = $1 AND b.status IN ('available', 'pending', 'running') AND b.expired_rule IS NULL
          ORDER BY b.created_at DESC, b.id DESC`,
  values: [targetId],
});

/**
 * Record retention's decision on a backup before anything is deleted, re-checking under the row lock
 * what may have changed since the plan was made: it must still be available, unpinned, read by no job,
 * and neither the newest available backup nor the newest verified one of its target.
 */
export const claimForExpiry = (id: string, rule: string): Sql => ({
  text: `UPDATE backups b SET expired_rule = $2
          WHERE b.id = $1 AND b.status = 'available' AND b.expired_rule IS NULL AND NOT b.pinned AND NOT ${IN_USE}
            AND EXISTS (SELECT 1 FROM backups n
                         WHERE n.target_id = b.target_id AND n.status = 'available' AND n.expired_rule IS NULL
                           AND (n.created_at, n.id) > (b.created_at, b.id))
            AND (coalesce((b.last_verification ->> 'verified')::boolean, false) = false
                 OR EXISTS (SELECT 1 FROM backups v
                             WHERE v.target_id = b.target_id AND v.status = 'available' AND v.expired_rule IS NULL
                               AND (v.last_verification ->> 'verified')::boolean
                               AND (v.created_at, v.id) > (b.created_at, b.id)))
          RETURNING b.id`,
  values: [id, rule],
});

/**
 * Backups whose objects retention still has to delete: claimed and still available (a sweep that
 * crashed between the claim and the mark leaves these), and failed backups whose leftovers remain.
 */
export const selectClaimed = (targetId: string): Sql => ({
  text: `SELECT b.id, b.tenant_id, b.target_id, b.status, b.expired_rule FROM backups b
          WHERE b.target_id = $1 AND b.expired_rule IS NOT NULL AND b.status = 'available'
          ORDER BY b.created_at, b.id`,
  values: [targetId],
});

export const selectFailedLeftovers = (targetId: string): Sql => ({
  text: `SELECT b.id, b.tenant_id, b.target_id, b.status, 'failed' AS expired_rule FROM backups b
          WHERE b.target_id = $1 AND b.status = 'failed' AND b.expired_at IS NULL AND NOT ${IN_USE}
          ORDER BY b.created_at, b.id LIMIT 100`,
  values: [targetId],
});

/** Objects gone: the record becomes history, with the rule that expired it. */
export const markExpired = (id: string): Sql => ({
  text: `UPDATE backups SET status = 'expired', expired_at = now()
          WHERE id = $1 AND status = 'available' AND expired_rule IS NOT NULL
          RETURNING id, expired_rule`,
  values: [id],
});

/** A failed backup keeps its status (it did fail); expired_at says its leftovers are gone. */
export const markLeftoversSwept = (id: string): Sql => ({
  text: `UPDATE backups SET expired_at = now(), expired_rule = 'failed'
          WHERE id = $1 AND status = 'failed' AND expired_at IS NULL
          RETURNING id, expired_rule`,
  values: [id],
});
