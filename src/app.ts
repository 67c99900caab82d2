import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { registerAuditTrail } from './api/audit-trail.js';
import { classifyError } from './api/error-classification.js';
import type { VerificationKey } from './auth/signing-key.js';
import type { Config } from './config.js';
import type { ConnectionSettings } from './db/pool.js';
import type { Services } from './domain/services.js';
import { registerGraphql } from './graphql/plugin.js';
import { authentication } from './http/authenticate.js';
import { loadOpenApiDocument } from './http/contract.js';
import { registerProblemHandlers, sendProblem } from './http/problem.js';
import { registerRest } from './http/rest.js';
import { contractValidatorCompiler } from './http/validation.js';
import { registerMetrics } from './observability/metrics.js';

export interface AppDeps {
  config: Config;
  pool: pg.Pool;
  services: Services;
  /** Owner connection settings for the LISTEN connection behind GraphQL subscriptions. */
  listen?: ConnectionSettings;
  verificationKey: VerificationKey;
  /** How many migrations this code knows; /readyz compares it with the database. */
  knownMigrations: number;
  /** The registry GET /metrics serves (the job metrics are registered on it by the caller); else a new one. */
  metrics?: Registry;
}

/** Log redaction: credentials never reach a log line, whatever object carries them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.connectionString',
  '*.databaseUrl',
  '*.secret',
  'password',
  'connectionString',
  'databaseUrl',
];

/** Build the HTTP application: plugins, REST from the contract, GraphQL, errors, metrics, audit. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    // Errors the router raises before any route (a bad %-escape, an over-long path parameter) answer
    // as problem+json too.
    frameworkErrors: (err, _request, reply) => sendProblem(reply, classifyError(err)),
  });
  app.setValidatorCompiler(contractValidatorCompiler());
  app.decorate('pool', deps.pool);
  app.decorate('services', deps.services);
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    return payload;
  });

  registerProblemHandlers(app);
  registerMetrics(app, deps.metrics);
  await app.register(authentication, {
    key: deps.verificationKey,
    issuer: deps.config.jwt.issuer,
    audience: deps.config.jwt.audience,
    maxTtlSeconds: deps.config.jwt.maxTtlSeconds,
    pool: deps.pool,
  });
  registerAuditTrail(app);
  await registerRest(app, loadOpenApiDocument(), deps.knownMigrations);
  await registerGraphql(app, { ...deps.config.graphql, ...(deps.listen ? { listen: deps.listen } : {}) });
  return app;
}
