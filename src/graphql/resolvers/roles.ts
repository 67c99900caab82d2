import type { IResolvers } from 'mercurius';
import { listServerRoles } from '../../domain/roles/inventory.js';
import {
  applyRoleSet,
  deleteRoleSet,
  getRoleSet,
  listRoleSets,
  type RoleSet,
  type RoleSetInput,
} from '../../domain/roles/role-sets/service.js';
import { isPgStewardError } from '../../errors.js';
import { fromEnum, toEnum } from '../enums.js';
import { type PageArgs, pageRequest } from '../paging.js';

type RoleSetInputArg = { database?: string | null; schemas?: string[] | null; roles?: string[] | null } | null;

const input = (a: RoleSetInputArg): RoleSetInput => ({
  database: a?.database ?? undefined,
  schemas: a?.schemas ?? undefined,
  roles: a?.roles?.map((r) => fromEnum(r)) ?? undefined,
});

/** A set from Target.roleSets carries no drift: it is read from the server only when asked for. */
type LoadedRoleSet = Omit<RoleSet, 'drift'> & { drift?: RoleSet['drift'] };

/** Role sets and the server's roles: thin calls into the services REST uses. */
export const roleResolvers: IResolvers = {
  Query: {
    roleSet: async (_r, a: { targetId: string; name: string }, { ctx }) => {
      try {
        return await getRoleSet(ctx, a.targetId, a.name);
      } catch (err) {
        if (isPgStewardError(err) && err.code === 'PGS_ROLE_SET_NOT_FOUND') return null;
        throw err;
      }
    },
    roleSets: (_r, a: PageArgs & { targetId: string }, { ctx }) => listRoleSets(ctx, a.targetId, pageRequest(a)),
    serverRoles: (_r, a: PageArgs & { targetId: string }, { ctx }) => listServerRoles(ctx, a.targetId, pageRequest(a)),
  },
  Mutation: {
    applyRoleSet: (
      _r,
      a: { targetId: string; name: string; input?: RoleSetInputArg; dryRun?: boolean | null },
      { ctx },
    ) => applyRoleSet(ctx, a.targetId, a.name, input(a.input ?? null), { dryRun: a.dryRun === true }),
    deleteRoleSet: async (_r, a: { targetId: string; name: string }, { ctx }) => {
      await deleteRoleSet(ctx, a.targetId, a.name);
      return true;
    },
  },
  RoleSet: {
    roles: (s: LoadedRoleSet) => s.roles.map(toEnum),
    drift: async (s: LoadedRoleSet, _a, { ctx }) => s.drift ?? (await getRoleSet(ctx, s.targetId, s.name)).drift,
  },
  RoleSetApplyResult: { roles: (s: { roles: string[] }) => s.roles.map(toEnum) },
};
