import type { IResolvers } from 'mercurius';
import type { CheckResult } from '../../domain/health/checks/types.js';
import { getFleetHealth, getHealthReport, type HealthReport, startHealthReport } from '../../domain/health/service.js';
import { isPgStewardError } from '../../errors.js';
import { toEnum } from '../enums.js';
import { type PageArgs, pageRequest } from '../paging.js';

/** Health reports: thin calls into the services REST uses; Target's reports go through loaders. */
export const healthResolvers: IResolvers = {
  Query: {
    healthReport: async (_r, { id }: { id: string }, { ctx }) => {
      try {
        return await getHealthReport(ctx, id);
      } catch (err) {
        if (isPgStewardError(err) && err.code === 'PGS_HEALTH_REPORT_NOT_FOUND') return null;
        throw err;
      }
    },
    fleetHealth: (_r, args: PageArgs, { ctx }) => getFleetHealth(ctx, pageRequest(args)),
  },
  Mutation: {
    startHealthReport: async (_r, { targetId }: { targetId: string }, { ctx }) =>
      (await startHealthReport(ctx, targetId)).job,
  },
  HealthReport: { status: (r: HealthReport) => toEnum(r.status) },
  FleetHealthEntry: { status: (e: { status: string | null }) => (e.status === null ? null : toEnum(e.status)) },
  HealthCheck: { status: (c: CheckResult) => toEnum(c.status) },
};
