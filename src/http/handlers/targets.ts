import { ctxOf } from '../../api/request-context.js';
import { checkTarget } from '../../domain/targets/check.js';
import { createTarget, deleteTarget, getTarget, listTargets, updateTarget } from '../../domain/targets/service.js';
import type { OperationHandler } from '../operation-types.js';

export const createTargetHandler: OperationHandler<'createTarget'> = async (request, reply) => {
  const target = await createTarget(ctxOf(request), request.body);
  request.auditResource = `targets/${target.id}`;
  reply.code(201).header('location', `/v1/targets/${target.id}`);
  return target;
};

export const listTargetsHandler: OperationHandler<'listTargets'> = async (request) =>
  listTargets(ctxOf(request), request.query);

export const getTargetHandler: OperationHandler<'getTarget'> = async (request) =>
  getTarget(ctxOf(request), request.params.targetId);

export const updateTargetHandler: OperationHandler<'updateTarget'> = async (request) => {
  request.auditResource = `targets/${request.params.targetId}`;
  return updateTarget(ctxOf(request), request.params.targetId, request.body);
};

export const deleteTargetHandler: OperationHandler<'deleteTarget'> = async (request, reply) => {
  request.auditResource = `targets/${request.params.targetId}`;
  await deleteTarget(ctxOf(request), request.params.targetId);
  reply.code(204);
  return undefined as never;
};

export const checkTargetHandler: OperationHandler<'checkTarget'> = async (request) =>
  checkTarget(ctxOf(request), request.params.targetId);
