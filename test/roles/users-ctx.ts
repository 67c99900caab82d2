import type { Scope } from '../../src/auth/scopes.js';
import type { Ctx } from '../../src/domain/context.js';
import type { TestApp } from '../helpers/app.js';

/** A service-level caller, for tests that drive a service function directly (with hooks). */
export const ctxFor = (test: Pick<TestApp, 'db' | 'services'>, tenantId: string, scopes: Scope[]): Ctx => ({
  actor: 'tester',
  tenantId,
  scopes: new Set(scopes),
  requestId: 'test',
  pool: test.db.appPool,
  services: test.services,
});
