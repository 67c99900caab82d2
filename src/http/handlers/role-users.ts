import { ctxOf } from '../../api/request-context.js';
import {
  createLoginUser,
  deleteLoginUser,
  getLoginUser,
  listLoginUsers,
  rotateLoginUserNow,
} from '../../domain/roles/users/service.js';
import type { OperationHandler } from '../operation-types.js';

const userPath = (targetId: string, name: string) => `targets/${targetId}/users/${name}`;

export const createLoginUserHandler: OperationHandler<'createLoginUser'> = async (request, reply) => {
  request.auditResource = userPath(request.params.targetId, request.body.name);
  const user = await createLoginUser(ctxOf(request), request.params.targetId, request.body);
  reply.code(201).header('location', `/v1/${userPath(request.params.targetId, user.name)}`);
  return user;
};

export const listLoginUsersHandler: OperationHandler<'listLoginUsers'> = async (request) =>
  listLoginUsers(ctxOf(request), request.params.targetId, request.query);

export const getLoginUserHandler: OperationHandler<'getLoginUser'> = async (request) =>
  getLoginUser(ctxOf(request), request.params.targetId, request.params.name);

export const deleteLoginUserHandler: OperationHandler<'deleteLoginUser'> = async (request, reply) => {
  request.auditResource = userPath(request.params.targetId, request.params.name);
  const { terminateSessions, reassignTo } = request.query;
  await deleteLoginUser(ctxOf(request), request.params.targetId, request.params.name, {
    ...(terminateSessions === undefined ? {} : { terminateSessions }),
    ...(reassignTo === undefined ? {} : { reassignTo }),
  });
  reply.code(204);
  return undefined as never;
};

export const rotateLoginUserHandler: OperationHandler<'rotateLoginUser'> = async (request, reply) => {
  request.auditResource = userPath(request.params.targetId, request.params.name);
  const job = await rotateLoginUserNow(ctxOf(request), request.params.targetId, request.params.name);
  reply.code(202).header('location', `/v1/jobs/${job.id}`);
  return job;
};
