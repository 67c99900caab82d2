import type { IResolvers } from 'mercurius';
import { listBackups } from '../../domain/backups/service.js';
import { getTarget, listTargets, type Target } from '../../domain/targets/service.js';
import { toEnum } from '../enums.js';
import { type PageArgs, pageRequest } from '../paging.js';

/** Targets: thin calls into the services REST uses; Target.drillPolicy goes through a loader. */
export const targetResolvers: IResolvers = {
  Query: {
    targets: (_r, args: PageArgs, { ctx }) => listTargets(ctx, pageRequest(args)),
    target: (_r, { id }: { id: string }, { ctx }) => getTarget(ctx, id),
  },
  Target: {
    sslMode: (t: Target) => toEnum(t.sslMode),
    backups: (t: Target, a: PageArgs, { ctx }) => listBackups(ctx, { ...pageRequest(a), targetId: t.id }),
  },
};
