import { ctxOf } from '../../api/request-context.js';
import { listServerRoles } from '../../domain/roles/inventory.js';
import { applyRoleSet, deleteRoleSet, getRoleSet, listRoleSets } from '../../domain/roles/role-sets/service.js';
import type { OperationHandler } from '../operation-types.js';

const setResource = (targetId: string, name: string) => `targets/${targetId}/role-sets/${name}`;

export const listRoleSetsHandler: OperationHandler<'listRoleSets'> = async (request) =>
  listRoleSets(ctxOf(request), request.params.targetId, request.query);

export const getRoleSetHandler: OperationHandler<'getRoleSet'> = async (request) =>
  getRoleSet(ctxOf(request), request.params.targetId, request.params.name);

export const applyRoleSetHandler: OperationHandler<'applyRoleSet'> = async (request) => {
  request.auditResource = setResource(request.params.targetId, request.params.name);
  const dryRun = request.query.dryRun === true;
  return applyRoleSet(ctxOf(request), request.params.targetId, request.params.name, request.body, { dryRun });
};

export const deleteRoleSetHandler: OperationHandler<'deleteRoleSet'> = async (request, reply) => {
  request.auditResource = setResource(request.params.targetId, request.params.name);
  await deleteRoleSet(ctxOf(request), request.params.targetId, request.params.name);
  reply.code(204);
  return undefined as never;
};

export const listServerRolesHandler: OperationHandler<'listServerRoles'> = async (request) =>
  listServerRoles(ctxOf(request), request.params.targetId, request.query);
