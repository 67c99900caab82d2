import type { FastifyRequest } from 'fastify';
import type { Caller, Ctx } from '../domain/context.js';
import { Errors } from '../errors.js';

// What REST handlers and GraphQL resolvers share about a request, whichever transport carried it.
declare module 'fastify' {
  interface FastifyInstance {
    pool: import('pg').Pool;
    services: import('../domain/services.js').Services;
  }
  interface FastifyRequest {
    /** Set by authentication for /v1 and /graphql requests; null elsewhere. */
    caller: Caller | null;
    /** When the bearer token expires (ms since the epoch); a WebSocket opened with it closes then. */
    tokenExpiresAt: number | null;
    /** What the audit log names as the resource; defaults to the request path. */
    auditResource: string | null;
    /** The tenant an audit event belongs to when it is not the caller's (e.g. a created tenant). */
    auditTenant: string | null;
  }
}

/** The service context for an authenticated request. */
export function ctxOf(request: FastifyRequest): Ctx {
  if (!request.caller) throw Errors.unauthorized('Send Authorization: Bearer <token>.');
  return { ...request.caller, pool: request.server.pool, services: request.server.services };
}
