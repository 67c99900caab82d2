import { ctxOf } from '../../api/request-context.js';
import { listAuditEvents } from '../../domain/audit/service.js';
import type { OperationHandler } from '../operation-types.js';

export const listAuditEventsHandler: OperationHandler<'listAuditEvents'> = async (request) =>
  listAuditEvents(ctxOf(request), request.query);
