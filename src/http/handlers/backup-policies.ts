import { ctxOf } from '../../api/request-context.js';
import {
  deleteBackupPolicy,
  getBackupPolicy,
  getRetentionPlan,
  setBackupPolicy,
} from '../../domain/backup-policies/service.js';
import { setBackupPinnedState } from '../../domain/backups/service.js';
import type { OperationHandler } from '../operation-types.js';

export const getBackupPolicyHandler: OperationHandler<'getBackupPolicy'> = async (request) =>
  getBackupPolicy(ctxOf(request), request.params.targetId);

export const setBackupPolicyHandler: OperationHandler<'setBackupPolicy'> = async (request) => {
  request.auditResource = `targets/${request.params.targetId}/backup-policy`;
  return setBackupPolicy(ctxOf(request), request.params.targetId, request.body);
};

export const deleteBackupPolicyHandler: OperationHandler<'deleteBackupPolicy'> = async (request, reply) => {
  request.auditResource = `targets/${request.params.targetId}/backup-policy`;
  await deleteBackupPolicy(ctxOf(request), request.params.targetId);
  reply.code(204);
  return undefined as never;
};

export const getRetentionPlanHandler: OperationHandler<'getRetentionPlan'> = async (request) =>
  getRetentionPlan(ctxOf(request), request.params.targetId);

export const updateBackupHandler: OperationHandler<'updateBackup'> = async (request) => {
  request.auditResource = `backups/${request.params.backupId}`;
  return setBackupPinnedState(ctxOf(request), request.params.backupId, request.body.pinned);
};
