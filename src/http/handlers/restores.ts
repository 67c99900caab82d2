import { ctxOf } from '../../api/request-context.js';
import { dropKeptDatabase, getRestore, listRestores, startRestore } from '../../domain/restores/service.js';
import type { OperationHandler } from '../operation-types.js';

export const startRestoreHandler: OperationHandler<'startRestore'> = async (request, reply) => {
  request.auditResource = `backups/${request.params.backupId}`;
  const job = await startRestore(ctxOf(request), request.params.backupId, request.body);
  request.auditResource = `restores/${job.restoreId}`;
  reply.code(202).header('location', `/v1/jobs/${job.id}`);
  return job;
};

export const listRestoresHandler: OperationHandler<'listRestores'> = async (request) =>
  listRestores(ctxOf(request), request.query);

export const getRestoreHandler: OperationHandler<'getRestore'> = async (request) =>
  getRestore(ctxOf(request), request.params.restoreId);

export const dropKeptDatabaseHandler: OperationHandler<'dropKeptDatabase'> = async (request) => {
  request.auditResource = `restores/${request.params.restoreId}`;
  return dropKeptDatabase(ctxOf(request), request.params.restoreId);
};
