import type pg from 'pg';
import { inTenantScope } from '../../db/tenant-scope.js';
import { Errors } from '../../errors.js';
import { type Ctx, isAdmin, ownTenant, requireScopes } from '../context.js';
import { type Keyset, listPage, type Page, type PageRequest } from '../pagination.js';
import { type AuditRecord, type AuditRow, insertAuditEvent, selectAuditPage } from './queries.js';

export type { AuditRecord };

/** A recorded event as callers see it: what was recorded, with its id and time. */
export interface AuditEvent extends AuditRecord {
  id: string;
  at: string;
}

/** Newest first by the identity column, a bigint. */
const BY_ID: Keyset<AuditRow, string> = {
  positionOf: (r) => r.id,
  parse: (position) => (/^\d{1,19}$/.test(position) ? position : undefined),
};

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
  return listPage(
    query,
    BY_ID,
    (before, limit) =>
      inTenantScope(ctx.pool, scope, (tx) => tx.rows<AuditRow>(selectAuditPage(query.tenantId, before, limit))),
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
  );
}
