import type { IResolvers } from 'mercurius';
import { getTarget, listTargets, type Target } from '../../domain/targets/service.js';
import { toEnum } from '../enums.js';
import { type PageArgs, pageRequest } from '../paging.js';

/** Targets: thin calls into the services REST uses; Target.drillPolicy and Target.backups go through loaders. */
export const targetResolvers: IResolvers = {
  Query: {
    targets: (_r, args: PageArgs, { ctx }) => listTargets(ctx, pageRequest(args)),
    target: (_r, { id }: { id: string }, { ctx }) => getTarget(ctx, id),
  },
  Target: {
    sslMode: (t: Target) => toEnum(t.sslMode),
  },
};
