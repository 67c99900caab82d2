import type { IResolvers, MercuriusContext } from 'mercurius';
import type { Ctx } from '../../domain/context.js';
import { getTenant, listTenants } from '../../domain/tenants/service.js';
import { Errors } from '../../errors.js';

declare module 'mercurius' {
  interface MercuriusContext {
    ctx: Ctx;
  }
}

type Args<T> = T;

/** Each resolver is a thin call into the same service functions REST uses. */
export const tenantResolvers: IResolvers<unknown, MercuriusContext> = {
  Query: {
    viewer: (_root, _args, { ctx }) => ({ actor: ctx.actor, tenantId: ctx.tenantId, scopes: [...ctx.scopes] }),
    tenant: (_root, { id }: Args<{ id?: string | null }>, { ctx }) => {
      const wanted = id ?? ctx.tenantId;
      if (wanted === null) throw Errors.tenantRequired();
      return getTenant(ctx, wanted);
    },
    tenants: (_root, { first, after }: Args<{ first?: number | null; after?: string | null }>, { ctx }) =>
      listTenants(ctx, { limit: first ?? undefined, cursor: after ?? undefined }),
  },
};
