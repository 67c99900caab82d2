import type { Job } from '../../jobs/types.js';

/**
 * A job as the API shows it (REST `Job`, GraphQL `Job`). The engine links a job to what it works on
 * through the opaque `subjects` map; the API keeps its named fields, read from the subject kinds the
 * capabilities use: `backup` (the backup a backup job produces, a restore or drill reads) and `restore`
 * (the restore a restore job performs). `subjects` itself stays internal.
 */
export interface JobView extends Omit<Job, 'subjects'> {
  backupId: string | null;
  restoreId: string | null;
}

export const toJobView = ({ subjects, ...job }: Job): JobView => ({
  ...job,
  backupId: subjects.backup ?? null,
  restoreId: subjects.restore ?? null,
});
