import type { IResolvers } from 'mercurius';
import { deleteDrillPolicy, getDrillPolicy, setDrillPolicy, verifyBackup } from '../../domain/drills/service.js';
import type { Verification } from '../../domain/drills/verification.js';
import { isPgStewardError } from '../../errors.js';
import { toEnum } from '../enums.js';

/** Restore drills: thin calls into the services REST uses; Target.drillPolicy goes through a loader. */
export const drillResolvers: IResolvers = {
  Query: {
    drillPolicy: async (_r, { targetId }: { targetId: string }, { ctx }) => {
      try {
        return await getDrillPolicy(ctx, targetId);
      } catch (err) {
        if (isPgStewardError(err) && err.code === 'PGS_DRILL_POLICY_NOT_FOUND') return null;
        throw err;
      }
    },
  },
  Mutation: {
    verifyBackup: (_r, { backupId }: { backupId: string }, { ctx }) => verifyBackup(ctx, backupId),
    setDrillPolicy: (_r, a: { targetId: string; schedule: string; timezone?: string | null }, { ctx }) =>
      setDrillPolicy(ctx, a.targetId, { schedule: a.schedule, timezone: a.timezone ?? undefined }),
    deleteDrillPolicy: async (_r, { targetId }: { targetId: string }, { ctx }) => {
      await deleteDrillPolicy(ctx, targetId);
      return true;
    },
  },
  Verification: { server: (v: Verification) => toEnum(v.server) },
};
