import { ctxOf } from '../../api/request-context.js';
import { deleteBackup, getBackup, listBackups, startBackup } from '../../domain/backups/service.js';
import type { OperationHandler } from '../operation-types.js';

export const startBackupHandler: OperationHandler<'startBackup'> = async (request, reply) => {
  const key = request.headers['idempotency-key'];
  const job = await startBackup(
    ctxOf(request),
    request.params.targetId,
    request.body ?? {},
    typeof key === 'string' ? key : undefined,
  );
  request.auditResource = `backups/${job.backupId}`;
  reply.code(202).header('location', `/v1/jobs/${job.id}`);
  return job;
};

export const listBackupsHandler: OperationHandler<'listBackups'> = async (request) =>
  listBackups(ctxOf(request), request.query);

export const getBackupHandler: OperationHandler<'getBackup'> = async (request) =>
  getBackup(ctxOf(request), request.params.backupId);

export const deleteBackupHandler: OperationHandler<'deleteBackup'> = async (request) => {
  request.auditResource = `backups/${request.params.backupId}`;
  return deleteBackup(ctxOf(request), request.params.backupId);
};
