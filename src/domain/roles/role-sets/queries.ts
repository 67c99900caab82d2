import type { Sql } from '../../../db/tenant-scope.js';

export interface RoleSetRow {
  id: string;
  tenant_id: string;
  target_id: string;
  name: string;
  database: string;
  schemas: string[];
  roles: string[];
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, tenant_id, target_id, name, database, schemas, roles, created_at, updated_at';

// Tenant filtering is row-level security's job: another tenant's rows are simply not there.
export const selectRoleSet = (targetId: string, name: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM role_sets WHERE target_id = $1 AND name = $2`,
  values: [targetId, name],
});

/** A target's sets by name; a target has a handful, the page is capped by the caller. */
export const selectRoleSetPage = (targetId: string, after: string | undefined, limit: number): Sql => ({
  text: `SELECT ${COLUMNS} FROM role_sets
          WHERE target_id = $1 AND ($2::text IS NULL OR name > $2)
          ORDER BY name LIMIT $3`,
  values: [targetId, after ?? null, limit + 1],
});

export const selectRoleSetsByTargets = (targetIds: string[], perTarget: number): Sql => ({
  text: `SELECT ${COLUMNS} FROM (
           SELECT *, row_number() OVER (PARTITION BY target_id ORDER BY name) AS n
             FROM role_sets WHERE target_id = ANY($1::uuid[])
         ) s WHERE n <= $2 ORDER BY target_id, name`,
  values: [targetIds, perTarget],
});

export const selectRoleSetNames = (targetId: string): Sql => ({
  text: 'SELECT name, roles FROM role_sets WHERE target_id = $1',
  values: [targetId],
});

export const insertRoleSet = (
  tenantId: string,
  targetId: string,
  d: { name: string; database: string; schemas: string[]; roles: string[] },
): Sql => ({
  text: `INSERT INTO role_sets (tenant_id, target_id, name, database, schemas, roles)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
  values: [tenantId, targetId, d.name, d.database, d.schemas, d.roles],
});

export const updateRoleSet = (id: string, d: { database: string; schemas: string[]; roles: string[] }): Sql => ({
  text: `UPDATE role_sets SET database = $2, schemas = $3, roles = $4, updated_at = now()
          WHERE id = $1 RETURNING ${COLUMNS}`,
  values: [id, d.database, d.schemas, d.roles],
});

export const deleteRoleSetRow = (id: string): Sql => ({
  text: 'DELETE FROM role_sets WHERE id = $1 RETURNING id',
  values: [id],
});
