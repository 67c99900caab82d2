import type { IResolvers } from 'mercurius';
import {
  createLoginUser,
  deleteLoginUser,
  getLoginUser,
  type LoginUser,
  type LoginUserInput,
  rotateLoginUserNow,
} from '../../domain/roles/users/service.js';
import { isPgStewardError } from '../../errors.js';
import { fromEnum, fromOptionalEnum, toEnum } from '../enums.js';

interface CreateArgs {
  targetId: string;
  input: Omit<LoginUserInput, 'access' | 'strategy' | 'validUntil' | 'connectionLimit' | 'rotation'> & {
    access: string;
    strategy?: string | null;
    validUntil?: string | null;
    connectionLimit?: number | null;
    rotation?: { everyDays: number } | null;
  };
}

const toInput = ({ input }: CreateArgs): LoginUserInput => ({
  name: input.name,
  roleSet: input.roleSet,
  secretRef: input.secretRef,
  access: fromEnum<LoginUserInput['access']>(input.access),
  ...(input.strategy ? { strategy: fromOptionalEnum<'single' | 'alternating'>(input.strategy) } : {}),
  ...(input.validUntil ? { validUntil: input.validUntil } : {}),
  ...(input.connectionLimit != null ? { connectionLimit: input.connectionLimit } : {}),
  ...(input.rotation ? { rotation: input.rotation } : {}),
});

/** Login users: thin calls into the services REST uses; Target.users goes through a loader. */
export const roleUserResolvers: IResolvers = {
  Query: {
    loginUser: async (_r, a: { targetId: string; name: string }, { ctx }) => {
      try {
        return await getLoginUser(ctx, a.targetId, a.name);
      } catch (err) {
        if (isPgStewardError(err) && err.code === 'PGS_LOGIN_USER_NOT_FOUND') return null;
        throw err;
      }
    },
  },
  Mutation: {
    createLoginUser: (_r, a: CreateArgs, { ctx }) => createLoginUser(ctx, a.targetId, toInput(a)),
    rotateUser: (_r, a: { targetId: string; name: string }, { ctx }) => rotateLoginUserNow(ctx, a.targetId, a.name),
    deleteLoginUser: async (
      _r,
      a: { targetId: string; name: string; terminateSessions?: boolean | null; reassignTo?: string | null },
      { ctx },
    ) => {
      await deleteLoginUser(ctx, a.targetId, a.name, {
        ...(a.terminateSessions ? { terminateSessions: true } : {}),
        ...(a.reassignTo ? { reassignTo: a.reassignTo } : {}),
      });
      return true;
    },
  },
  LoginUser: {
    access: (u: LoginUser) => toEnum(u.access),
    strategy: (u: LoginUser) => toEnum(u.strategy),
    state: (u: LoginUser) => toEnum(u.state),
  },
};
