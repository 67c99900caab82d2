import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { mintToken } from '../../src/auth/mint.js';
import type { Scope } from '../../src/auth/scopes.js';
import { loadConfig } from '../../src/config.js';
import { createAppPool } from '../../src/db/pool.js';
import { createServices, type Services } from '../../src/domain/services.js';
import type { JobWorker } from '../../src/jobs/worker.js';
import { createJobWorker } from '../../src/jobs-runtime.js';
import { registerJobMetrics } from '../../src/observability/job-metrics.js';
import { createMetricsRegistry } from '../../src/observability/metrics.js';
import { ContractChecker } from './contract.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  services: Services;
  /** The directory holding secrets.json (mode 0600) and the artifacts/ storage root. */
  dir: string;
  /** Write file:<key> secrets (merged with any already written). */
  writeSecrets(secrets: Record<string, Record<string, unknown>>): void;
  /** The job worker, when started with { worker: true }. */
  worker: JobWorker | undefined;
  /** An operator token (tenants:admin, no tenant). */
  adminToken: string;
  /** A token for a tenant with the given scopes. */
  token(tenant: string | undefined, scopes: Scope[], extra?: { sub?: string; ttlSeconds?: number }): string;
  /** Create tenants directly (as the owner), for tests that are not about tenant creation. */
  seedTenants(...ids: string[]): Promise<void>;
  contract: ContractChecker;
}

/**
 * The real application on a fresh database. Every response it produces during the test is checked
 * against openapi/openapi.yaml; at teardown the file fails if any did not conform.
 */
export async function buildTestApp(
  t: Test,
  env: Record<string, string> = {},
  opts: { worker?: boolean; services?: Partial<Services> } = {},
): Promise<TestApp> {
  const db = await createTestDatabase(t);
  const dir = mkdtempSync(join(tmpdir(), 'pgsteward-app-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secretsFile = join(dir, 'secrets.json');
  let secrets: Record<string, Record<string, unknown>> = {};
  const writeSecrets = (more: Record<string, Record<string, unknown>>) => {
    secrets = { ...secrets, ...more };
    writeFileSync(`${secretsFile}.new`, JSON.stringify(secrets), { mode: 0o600 });
    renameSync(`${secretsFile}.new`, secretsFile);
  };
  writeSecrets({});
  const config = loadConfig({
    PGSTEWARD_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    PGSTEWARD_DATA_DIR: dir,
    PGSTEWARD_SECRETS_FILE: secretsFile,
    // The test clusters listen on loopback, which only the embedded mode allows by default.
    PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8',
    PGSTEWARD_JOB_LEASE_SECONDS: '5',
    ...env,
  });
  const services = createServices(config, opts.services);
  // As in src/server.ts: the job metrics on the registry /metrics serves, the engine on its own pool.
  const metrics = createMetricsRegistry();
  const events = registerJobMetrics(metrics, { pool: db.appPool });
  const enginePool = createAppPool(db.ownerSettings, 3, 'pgsteward-jobs');
  db.beforeClose(() => enginePool.end());
  const worker = opts.worker
    ? createJobWorker({ config, pool: db.appPool, enginePool, listen: db.ownerSettings, services, events })
    : undefined;
  await worker?.start();
  db.beforeClose(() => worker?.stop({ timeoutMs: 2_000 }));
  const app = await buildApp({
    config,
    pool: db.appPool,
    services,
    listen: db.ownerSettings,
    verificationKey: { key: TEST_JWT_SECRET, algorithms: ['HS256'] },
    metrics,
    knownMigrations: (await db.ownerQuery<{ n: number }>('SELECT count(*)::int AS n FROM pgsteward_migrations'))[0]
      ?.n as number,
  });
  const contract = new ContractChecker();
  const violations: string[] = [];
  app.addHook('onSend', async (request, reply, payload) => {
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const type = String(reply.getHeader('content-type') ?? '');
    violations.push(...contract.check(request.method, request.routeOptions.url, reply.statusCode, type, body));
    return payload;
  });
  await app.ready();
  // Checked after each subtest (the file is still open for assertions then); anything produced after
  // the last subtest fails the file at teardown.
  t.afterEach(() => {
    t.same(violations.splice(0), [], 'every response conforms to openapi/openapi.yaml');
  });
  db.beforeClose(async () => {
    await app.close();
    if (violations.length > 0) throw new Error(`responses broke the contract:\n${violations.join('\n')}`);
  });
  const token: TestApp['token'] = (tenant, scopes, extra = {}) =>
    mintToken({
      secret: TEST_JWT_SECRET,
      sub: extra.sub ?? 'tester',
      ...(tenant ? { tenant } : {}),
      scopes,
      ttlSeconds: extra.ttlSeconds ?? 600,
    });
  return {
    app,
    db,
    services,
    dir,
    writeSecrets,
    worker,
    adminToken: token(undefined, ['tenants:admin'], { sub: 'operator' }),
    token,
    contract,
    seedTenants: async (...ids) => {
      for (const id of ids) await db.ownerQuery('INSERT INTO tenants (id, name) VALUES ($1, $2)', [id, id]);
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
