import { type HealthCheck, pass } from './types.js';

const HOUR = 3600_000;
const RESTORE_DOCS = 'https://www.postgresql.org/docs/current/backup-dump.html';

export const newestBackup: HealthCheck = {
  id: 'backups.newest_backup',
  category: 'backups',
  defaults: { maxAgeHours: 26 },
  docsUrl: RESTORE_DOCS,
  run: (ctx, th) => {
    const at = ctx.posture.newestBackupAt;
    if (at === null) {
      return {
        status: 'fail',
        summary: 'pgsteward holds no available backup of this target.',
        evidence: [],
        remediation: 'POST /v1/targets/{id}/backups, and schedule them.',
      };
    }
    const hours = (ctx.now.getTime() - at.getTime()) / HOUR;
    const evidence = [{ newestBackupAt: at.toISOString(), ageHours: Math.round(hours * 10) / 10 }];
    return hours > (th.maxAgeHours ?? 26)
      ? {
          status: 'warn',
          summary: `The newest available backup is ${Math.round(hours)} h old (expected every ${th.maxAgeHours} h).`,
          evidence,
          remediation: 'Check the backup schedule and the latest failed backup jobs.',
        }
      : pass(`The newest available backup is ${Math.round(hours)} h old.`, evidence);
  },
};

export const restoreDrills: HealthCheck = {
  id: 'backups.restore_drills',
  category: 'backups',
  defaults: { maxAgeDays: 8 },
  docsUrl: RESTORE_DOCS,
  run: (ctx, th) => {
    const drill = ctx.posture.newestDrill;
    if (drill === null) {
      return {
        status: 'warn',
        summary: 'No backup of this target was ever test-restored: a backup you have never restored is not a backup.',
        evidence: [],
        remediation: 'PUT /v1/targets/{id}/drill-policy {"schedule": "0 3 * * 0"}, or POST /v1/backups/{id}/verify.',
      };
    }
    const days = (ctx.now.getTime() - drill.at.getTime()) / (24 * HOUR);
    const evidence = [
      {
        drilledAt: drill.at.toISOString(),
        backupId: drill.backupId,
        verified: drill.verified,
        ageDays: Math.round(days * 10) / 10,
      },
    ];
    if (!drill.verified) {
      return {
        status: 'fail',
        summary: `The newest restore drill (${drill.at.toISOString()}) did not verify its backup.`,
        evidence,
        remediation: `GET /v1/backups/${drill.backupId} for what the drill found.`,
      };
    }
    return days > (th.maxAgeDays ?? 8)
      ? {
          status: 'warn',
          summary: `The newest verified restore drill is ${Math.round(days)} days old.`,
          evidence,
          remediation: 'Schedule drills: PUT /v1/targets/{id}/drill-policy.',
        }
      : pass(`A restore drill verified a backup ${Math.round(days)} day(s) ago.`, evidence);
  },
};

export const failedJobs: HealthCheck = {
  id: 'backups.failed_jobs',
  category: 'backups',
  defaults: { days: 7 },
  run: (ctx, th) => {
    const failed = ctx.posture.failedJobs.filter((j) => j.count > 0);
    const total = failed.reduce((n, j) => n + j.count, 0);
    return total === 0
      ? pass(`No backup, restore or drill job failed in the last ${th.days} days.`)
      : {
          status: 'warn',
          summary: `${total} backup, restore or drill job(s) failed in the last ${th.days} days.`,
          evidence: failed.map((j) => ({ kind: j.kind, failed: j.count })),
          remediation: 'GET /v1/jobs?status=failed for their errors.',
        };
  },
};

export const backupChecks = [newestBackup, restoreDrills, failedJobs];
