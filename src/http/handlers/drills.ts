import { ctxOf } from '../../api/request-context.js';
import { deleteDrillPolicy, getDrillPolicy, setDrillPolicy, verifyBackup } from '../../domain/drills/service.js';
import type { OperationHandler } from '../operation-types.js';

export const verifyBackupHandler: OperationHandler<'verifyBackup'> = async (request, reply) => {
  request.auditResource = `backups/${request.params.backupId}`;
  const job = await verifyBackup(ctxOf(request), request.params.backupId);
  reply.code(202).header('location', `/v1/jobs/${job.id}`);
  return job;
};

export const getDrillPolicyHandler: OperationHandler<'getDrillPolicy'> = async (request) =>
  getDrillPolicy(ctxOf(request), request.params.targetId);

export const setDrillPolicyHandler: OperationHandler<'setDrillPolicy'> = async (request) => {
  request.auditResource = `targets/${request.params.targetId}/drill-policy`;
  return setDrillPolicy(ctxOf(request), request.params.targetId, request.body);
};

export const deleteDrillPolicyHandler: OperationHandler<'deleteDrillPolicy'> = async (request, reply) => {
  request.auditResource = `targets/${request.params.targetId}/drill-policy`;
  await deleteDrillPolicy(ctxOf(request), request.params.targetId);
  reply.code(204);
  return undefined as never;
};
