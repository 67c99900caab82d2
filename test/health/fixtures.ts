import pg from 'pg';
import type { Test } from 'tap';
import { quoteIdent } from '../../src/sql/identifiers.js';
import { bearer, type TestApp } from '../helpers/app.js';
import type { TestCluster } from '../helpers/pg-cluster.js';
import { createOwnedDatabase, type OwnedDatabase } from '../helpers/source-database.js';
import { registerTarget } from '../helpers/targets.js';

export const HEALTH_SCOPES = ['targets:read', 'targets:write', 'health:read', 'health:write', 'jobs:read'] as const;

export interface CheckView {
  id: string;
  category: string;
  status: string;
  summary: string;
  evidence: Record<string, unknown>[];
  remediation: string;
}

export interface ReportView {
  id: string;
  targetId: string;
  status: string;
  checks: CheckView[];
  counts: Record<string, number>;
  server: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
}

/** A database on `cluster` owned by its own login role, dropped at teardown, plus a superuser client to it. */
export async function ownedDatabase(
  t: Test,
  cluster: TestCluster,
  opts: { superuser?: boolean } = {},
): Promise<OwnedDatabase & { admin: pg.Client }> {
  const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const owned = await createOwnedDatabase(cluster, {
    name: `health_${suffix}`,
    role: `health_${suffix}`,
    ...(opts.superuser ? { superuser: true } : {}),
  });
  const admin = new pg.Client(cluster.clientConfig(owned.name));
  await admin.connect();
  t.teardown(async () => {
    await admin.end().catch(() => {});
    await owned.drop();
  });
  return { ...owned, admin };
}

/**
 * What the README recommends for a report's role, short of superuser: pg_monitor, and the two reads
 * only superusers have by default (pg_hba_file_rules, stored password hashes).
 */
export async function grantReportPrivileges(admin: pg.Client, role: string): Promise<void> {
  const r = quoteIdent(role);
  await admin.query(`GRANT pg_monitor TO ${r}`);
  await admin.query(`GRANT SELECT ON pg_catalog.pg_hba_file_rules TO ${r}`);
  await admin.query(`GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO ${r}`);
  await admin.query(`GRANT SELECT (rolname, rolpassword) ON pg_catalog.pg_authid TO ${r}`);
}

export async function revokeReportPrivileges(admin: pg.Client, role: string): Promise<void> {
  const r = quoteIdent(role);
  await admin.query(`REVOKE pg_monitor FROM ${r}`);
  await admin.query(`REVOKE SELECT ON pg_catalog.pg_hba_file_rules FROM ${r}`);
  await admin.query(`REVOKE EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() FROM ${r}`);
  await admin.query(`REVOKE SELECT (rolname, rolpassword) ON pg_catalog.pg_authid FROM ${r}`);
}

/** Registers a target for the login and answers its id. */
export async function healthTarget(test: TestApp, token: string, login: OwnedDatabase, name: string) {
  const res = await registerTarget(test, token, login, { name });
  if (res.statusCode !== 201) throw new Error(`target not registered: ${res.body}`);
  return res.json().id as string;
}

/** POST a report with ?wait=30 and answer it (the call answers 201 with the report when it finished in time). */
export async function runReport(test: TestApp, token: string, targetId: string): Promise<ReportView> {
  const res = await test.app.inject({
    method: 'POST',
    url: `/v1/targets/${targetId}/health-reports?wait=30`,
    headers: bearer(token),
  });
  if (res.statusCode !== 201) throw new Error(`report did not finish: ${res.statusCode} ${res.body}`);
  return res.json() as ReportView;
}

export const check = (report: ReportView, id: string): CheckView => {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in the report`);
  return found;
};

export async function setThresholds(
  test: TestApp,
  token: string,
  targetId: string,
  thresholds: Record<string, Record<string, number>>,
) {
  const res = await test.app.inject({
    method: 'PUT',
    url: `/v1/targets/${targetId}/health-policy`,
    headers: bearer(token),
    payload: { thresholds },
  });
  if (res.statusCode !== 200) throw new Error(`policy not set: ${res.body}`);
}

/** Wait until the statistics collector shows a table's dead tuples (stats are flushed up to a second late). */
export async function waitForDeadTuples(client: pg.Client, table: string, atLeast: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { rows } = await client.query<{ n: string }>(
      'SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = $1',
      [table],
    );
    if (Number(rows[0]?.n ?? 0) >= atLeast) return;
    if (Date.now() - started > 10_000) throw new Error(`dead tuples of ${table} never reached ${atLeast}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
