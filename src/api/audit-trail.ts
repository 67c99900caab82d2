import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type AuditRecord, recordAuditEvent } from '../domain/audit/service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** GraphQL mutations executed by this request, as `graphql:<field>` actions; see auditAction. */
    auditActions: string[] | null;
  }
}

/** Add one action to the request's audit events (a GraphQL request may carry several mutations). */
export function auditAction(request: FastifyRequest, action: string): void {
  request.auditActions ??= [];
  request.auditActions.push(action);
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const outcomeOf = (status: number): AuditRecord['outcome'] =>
  status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failure';

function actionsOf(request: FastifyRequest): string[] {
  if (request.auditActions) return request.auditActions;
  if (!MUTATING.has(request.method) || !request.url.startsWith('/v1/')) return [];
  return [request.routeOptions.config.operationId ?? `${request.method} ${request.routeOptions.url ?? 'unmatched'}`];
}

/**
 * Every mutating request by a known caller is recorded before its response leaves, so a client that
 * saw the answer can rely on the audit row existing. A failure to record is logged, never hidden.
 */
export function registerAuditTrail(app: FastifyInstance): void {
  app.decorateRequest('auditResource', null);
  app.decorateRequest('auditTenant', null);
  app.decorateRequest('auditActions', null);
  app.addHook('onSend', async (request, reply, payload) => {
    const caller = request.caller;
    if (!caller) return payload;
    for (const action of actionsOf(request)) {
      const event: AuditRecord = {
        tenantId: request.auditTenant ?? caller.tenantId,
        actor: caller.actor,
        action,
        resource: request.auditResource ?? (request.url.split('?')[0] ?? '').slice(0, 500),
        outcome: outcomeOf(reply.statusCode),
        statusCode: reply.statusCode,
        requestId: request.id,
      };
      try {
        await recordAuditEvent(app.pool, event);
      } catch (err) {
        request.log.error({ err, audit: event }, 'could not record an audit event');
      }
    }
    return payload;
  });
}
