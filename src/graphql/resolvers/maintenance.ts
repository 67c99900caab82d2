import type { IResolvers } from 'mercurius';
import {
  deleteMaintenanceWindow,
  getMaintenanceRun,
  getMaintenanceWindow,
  type MaintenanceRun,
  type StartMaintenanceInput,
  setMaintenanceWindow,
  startMaintenance,
} from '../../domain/maintenance/service.js';
import { isPgStewardError } from '../../errors.js';
import { toEnum } from '../enums.js';

type Input = { [K in keyof StartMaintenanceInput]: StartMaintenanceInput[K] | null };

/** GraphQL input -> the service's input: nulls become absent; the action enum is the REST string. */
function maintenanceInput(input: Input): StartMaintenanceInput {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== null && v !== undefined) out[k] = v;
  out.action = String(input.action).toLowerCase();
  return out as unknown as StartMaintenanceInput;
}

/** Maintenance: thin calls into the services REST uses; Target.maintenanceWindow goes through a loader. */
export const maintenanceResolvers: IResolvers = {
  Query: {
    maintenanceWindow: async (_r, { targetId }: { targetId: string }, { ctx }) => {
      try {
        return await getMaintenanceWindow(ctx, targetId);
      } catch (err) {
        if (isPgStewardError(err) && err.code === 'PGS_MAINTENANCE_WINDOW_NOT_FOUND') return null;
        throw err;
      }
    },
    maintenanceRun: (_r, { id }: { id: string }, { ctx }) => getMaintenanceRun(ctx, id),
  },
  Mutation: {
    setMaintenanceWindow: (
      _r,
      a: { targetId: string; schedule: string; durationMinutes: number; timezone?: string | null },
      { ctx },
    ) =>
      setMaintenanceWindow(ctx, a.targetId, {
        schedule: a.schedule,
        durationMinutes: a.durationMinutes,
        timezone: a.timezone ?? undefined,
      }),
    deleteMaintenanceWindow: async (_r, { targetId }: { targetId: string }, { ctx }) => {
      await deleteMaintenanceWindow(ctx, targetId);
      return true;
    },
    startMaintenance: (_r, a: { targetId: string; input: Input }, { ctx }) =>
      startMaintenance(ctx, a.targetId, maintenanceInput(a.input)),
  },
  MaintenanceRun: {
    action: (r: MaintenanceRun) => toEnum(r.action),
    status: (r: MaintenanceRun) => toEnum(r.status),
    credential: (r: MaintenanceRun) => (r.credential === null ? null : toEnum(r.credential)),
  },
};
