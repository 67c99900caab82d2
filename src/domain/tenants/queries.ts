import type { Sql } from '../../db/tenant-scope.js';

export interface TenantRow {
  id: string;
  name: string;
  created_at: Date;
}

export const insertTenant = (id: string, name: string): Sql => ({
  text: 'INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING id, name, created_at',
  values: [id, name],
});

// No tenant filter here on purpose: row-level security decides which rows the scope may see.
export const selectTenant = (id: string): Sql => ({
  text: 'SELECT id, name, created_at FROM tenants WHERE id = $1',
  values: [id],
});

/** Keyset pagination by id: stable under inserts, and an index scan on the primary key. */
export const selectTenantPage = (afterId: string | undefined, limit: number): Sql => ({
  text: `SELECT id, name, created_at FROM tenants
          WHERE ($1::text IS NULL OR id > $1)
          ORDER BY id
          LIMIT $2`,
  values: [afterId ?? null, limit + 1],
});
