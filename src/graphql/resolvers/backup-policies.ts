import type { IResolvers } from 'mercurius';
import {
  type BackupPolicy,
  type BackupPolicyInput,
  deleteBackupPolicy,
  getBackupPolicy,
  getRetentionPlan,
  setBackupPolicy,
} from '../../domain/backup-policies/service.js';
import { setBackupPinnedState } from '../../domain/backups/service.js';
import { isPgStewardError } from '../../errors.js';
import { toEnum } from '../enums.js';
import { backupOptions, type OptionsArg } from './backups.js';

type PolicyArg = Omit<BackupPolicyInput, 'options' | 'timezone' | 'enabled'> & {
  options?: OptionsArg | null;
  timezone?: string | null;
  enabled?: boolean | null;
};

/** Backup policies and retention: thin calls into the services REST uses; Target.backupPolicy is a loader. */
export const backupPolicyResolvers: IResolvers = {
  Query: {
    backupPolicy: async (_r, { targetId }: { targetId: string }, { ctx }) => {
      try {
        return await getBackupPolicy(ctx, targetId);
      } catch (err) {
        if (isPgStewardError(err) && err.code === 'PGS_BACKUP_POLICY_NOT_FOUND') return null;
        throw err;
      }
    },
    retentionPlan: (_r, { targetId }: { targetId: string }, { ctx }) => getRetentionPlan(ctx, targetId),
  },
  Mutation: {
    setBackupPolicy: (_r, a: { targetId: string; policy: PolicyArg }, { ctx }) =>
      setBackupPolicy(ctx, a.targetId, {
        schedule: a.policy.schedule,
        timezone: a.policy.timezone ?? undefined,
        options: backupOptions(a.policy.options),
        retention: a.policy.retention ?? undefined,
        verifyEvery: a.policy.verifyEvery ?? null,
        enabled: a.policy.enabled ?? undefined,
      }),
    deleteBackupPolicy: async (_r, { targetId }: { targetId: string }, { ctx }) => {
      await deleteBackupPolicy(ctx, targetId);
      return true;
    },
    pinBackup: (_r, a: { backupId: string; pinned: boolean }, { ctx }) =>
      setBackupPinnedState(ctx, a.backupId, a.pinned),
  },
  BackupPolicyRun: { outcome: (r: NonNullable<BackupPolicy['lastRun']>) => toEnum(r.outcome) },
  RetentionPlanItem: {
    action: (i: { action: string }) => toEnum(i.action),
    status: (i: { status: string }) => toEnum(i.status),
  },
};
