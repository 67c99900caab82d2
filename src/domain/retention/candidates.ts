import type { Tx } from '../../db/tenant-scope.js';
import { type PlanEntry, planRetention, type Retention, type RetentionCandidate } from './plan.js';
import { type CandidateRow, selectCandidates } from './queries.js';

const toCandidate = (r: CandidateRow): RetentionCandidate => ({
  id: r.id,
  status: r.status,
  createdAt: r.created_at,
  scheduled: r.scheduled,
  pinned: r.pinned,
  verified: r.verified,
  inUse: r.in_use,
});

/** The plan for one target's backups now, read inside the caller's tenant transaction. */
export async function planTarget(
  tx: Tx,
  policy: { target_id: string; retention: Retention; timezone: string },
  now: Date,
): Promise<{ plan: PlanEntry[]; rows: CandidateRow[] }> {
  const rows = await tx.rows<CandidateRow>(selectCandidates(policy.target_id));
  return { plan: planRetention(rows.map(toCandidate), policy.retention, policy.timezone, now), rows };
}
