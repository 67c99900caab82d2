import type { Sql } from '../../db/tenant-scope.js';

export interface AuditRow {
  id: string;
  tenant_id: string | null;
  actor: string;
  action: string;
  resource: string;
  outcome: 'success' | 'failure' | 'denied';
  status_code: number;
  request_id: string | null;
  at: Date;
}

export interface AuditRecord {
  tenantId: string | null;
  actor: string;
  action: string;
  resource: string;
  outcome: AuditRow['outcome'];
  statusCode: number;
  requestId: string | null;
}

export const insertAuditEvent = (e: AuditRecord): Sql => ({
  text: `INSERT INTO audit_events (tenant_id, actor, action, resource, outcome, status_code, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  values: [e.tenantId, e.actor, e.action, e.resource, e.outcome, e.statusCode, e.requestId],
});

/** Newest first, keyset on the identity column; the tenant filter is optional (RLS scopes anyway). */
export const selectAuditPage = (tenantId: string | undefined, beforeId: string | undefined, limit: number): Sql => ({
  text: `SELECT id::text, tenant_id, actor, action, resource, outcome, status_code, request_id, at
           FROM audit_events
          WHERE ($1::text IS NULL OR tenant_id = $1)
            AND ($2::bigint IS NULL OR id < $2)
          ORDER BY id DESC
          LIMIT $3`,
  values: [tenantId ?? null, beforeId ?? null, limit + 1],
});
