import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { mintToken } from '../../src/auth/mint.js';
import type { Scope } from '../../src/auth/scopes.js';
import { loadConfig } from '../../src/config.js';
import { ContractChecker } from './contract.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';


export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
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
export async function buildTestApp(t: Test, env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase(t);
  const config = loadConfig({ PGSTEWARD_JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent', ...env });
  const app = await buildApp({
    config,
    pool: db.appPool,
    verificationKey: { key: TEST_JWT_SECRET, algorithms: ['HS256'] },
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
  t.teardown(async () => {
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
    adminToken: token(undefined, ['tenants:admin'], { sub: 'operator' }),
    token,
    contract,
    seedTenants: async (...ids) => {
      for (const id of ids) await db.ownerQuery('INSERT INTO tenants (id, name) VALUES ($1, $2)', [id, id]);
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
