import { ctxOf } from '../../api/request-context.js';
import { createTenant, getTenant, listTenants } from '../../domain/tenants/service.js';
import type { OperationHandler } from '../operation-types.js';

export const createTenantHandler: OperationHandler<'createTenant'> = async (request, reply) => {
  const tenant = await createTenant(ctxOf(request), request.body);
  request.auditResource = `tenants/${tenant.id}`;
  request.auditTenant = tenant.id;
  reply.code(201).header('location', `/v1/tenants/${tenant.id}`);
  return tenant;
};

export const getTenantHandler: OperationHandler<'getTenant'> = async (request) =>
  getTenant(ctxOf(request), request.params.tenantId);

export const listTenantsHandler: OperationHandler<'listTenants'> = async (request) =>
  listTenants(ctxOf(request), request.query);
