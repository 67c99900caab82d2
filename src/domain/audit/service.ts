import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { type Ctx, isAdmin, ownTenant, requireScopes } from '../context.js';
import { decodeCursor, type Page, type PageRequest, pageSize, toPage } from '../pagination.js';
import { type AuditRecord, type AuditRow, insertAuditEvent, selectAuditPage } from './queries.js';

export type { AuditRecord };

export interface AuditEvent {
  id: string;
  tenantId: string | null;
  actor: string;
  action: string;
  resource: string;
  outcome: AuditRow['outcome'];
  statusCode: number;
  requestId: string | null;
  at: string;
}

/** Record one event. Written with the event's own tenant scope, so RLS checks it like any row. */
export async function recordAuditEvent(pool: pg.Pool, event: AuditRecord): Promise<void> {
  const scope = event.tenantId === null ? { allTenants: true as const } : { tenantId: event.tenantId };
  await inTenantScope(pool, scope, (tx) => tx.rows(insertAuditEvent(event)));
}

/**
 * The caller's tenant's events, newest first, with audit:read; operators (tenants:admin) see all,
 * optionally narrowed to one tenant, as they always could.
 */
export async function listAuditEvents(ctx: Ctx, query: PageRequest & { tenantId?: string }): Promise<Page<AuditEvent>> {
  if (!isAdmin(ctx)) requireScopes(ctx, 'audit:read');
  if (query.tenantId !== undefined && !isAdmin(ctx) && query.tenantId !== ctx.tenantId) {
    throw Errors.tenantNotFound(query.tenantId);
  }
  const scope = isAdmin(ctx) ? { allTenants: true as const } : ownTenant(ctx);
  const limit = pageSize(query);
  const before = decodeCursor(query.cursor);
  if (before !== undefined && !/^\d{1,19}$/.test(before)) throw Errors.invalidCursor();
  const rows = await inTenantScope(ctx.pool, scope, (tx) =>
    tx.rows<AuditRow>(selectAuditPage(query.tenantId, before, limit)),
  );
  return toPage(
    rows,
    limit,
    (r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      actor: r.actor,
      action: r.action,
      resource: r.resource,
      outcome: r.outcome,
      statusCode: r.status_code,
      requestId: r.request_id,
      at: r.at.toISOString(),
    }),
    (r) => r.id,
  );
}
