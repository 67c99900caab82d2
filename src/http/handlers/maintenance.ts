import { ctxOf } from '../../api/request-context.js';
import {
  deleteMaintenanceWindow,
  getMaintenanceRun,
  getMaintenanceWindow,
  listMaintenanceRuns,
  setMaintenanceWindow,
  startMaintenance,
} from '../../domain/maintenance/service.js';
import type { OperationHandler } from '../operation-types.js';

export const getMaintenanceWindowHandler: OperationHandler<'getMaintenanceWindow'> = async (request) =>
  getMaintenanceWindow(ctxOf(request), request.params.targetId);

export const setMaintenanceWindowHandler: OperationHandler<'setMaintenanceWindow'> = async (request) => {
  request.auditResource = `targets/${request.params.targetId}/maintenance-window`;
  return setMaintenanceWindow(ctxOf(request), request.params.targetId, request.body);
};

export const deleteMaintenanceWindowHandler: OperationHandler<'deleteMaintenanceWindow'> = async (request, reply) => {
  request.auditResource = `targets/${request.params.targetId}/maintenance-window`;
  await deleteMaintenanceWindow(ctxOf(request), request.params.targetId);
  reply.code(204);
  return undefined as never;
};

export const startMaintenanceHandler: OperationHandler<'startMaintenance'> = async (request, reply) => {
  request.auditResource = `targets/${request.params.targetId}/maintenance`;
  const job = await startMaintenance(ctxOf(request), request.params.targetId, request.body);
  request.auditResource = `maintenance/${job.id}`;
  reply.code(202).header('location', `/v1/maintenance/${job.id}`);
  return job;
};

export const getMaintenanceRunHandler: OperationHandler<'getMaintenanceRun'> = async (request) =>
  getMaintenanceRun(ctxOf(request), request.params.maintenanceId);

export const listMaintenanceRunsHandler: OperationHandler<'listMaintenanceRuns'> = async (request) =>
  listMaintenanceRuns(ctxOf(request), request.params.targetId, request.query);
