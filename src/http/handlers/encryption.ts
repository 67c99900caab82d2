import { ctxOf } from '../../api/request-context.js';
import { getTenantEncryption, setTenantEncryption, startRewrap } from '../../domain/encryption/service.js';
import type { OperationHandler } from '../operation-types.js';

export const getTenantEncryptionHandler: OperationHandler<'getTenantEncryption'> = async (request) =>
  getTenantEncryption(ctxOf(request), request.params.tenantId);

export const setTenantEncryptionHandler: OperationHandler<'setTenantEncryption'> = async (request) => {
  request.auditResource = `tenants/${request.params.tenantId}/encryption`;
  request.auditTenant = request.params.tenantId;
  return setTenantEncryption(ctxOf(request), request.params.tenantId, request.body);
};

export const rewrapTenantKeysHandler: OperationHandler<'rewrapTenantKeys'> = async (request, reply) => {
  request.auditResource = `tenants/${request.params.tenantId}/encryption`;
  request.auditTenant = request.params.tenantId;
  const job = await startRewrap(ctxOf(request), request.params.tenantId);
  reply.code(202).header('location', `/v1/jobs/${job.id}`);
  return job;
};
