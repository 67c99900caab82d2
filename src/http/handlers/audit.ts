import { listAuditEvents } from '../../domain/audit/service.js';
import type { OperationHandler } from '../operation-types.js';
import { ctxOf } from '../request-context.js';

export const listAuditEventsHandler: OperationHandler<'listAuditEvents'> = async (request) =>
  listAuditEvents(ctxOf(request), request.query);
