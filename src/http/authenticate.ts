import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type pg from 'pg';
import { ADMIN_SCOPE, parseScopeClaim } from '../auth/scopes.js';
import type { VerificationKey } from '../auth/signing-key.js';
import { lifetimeProblem } from '../auth/token-lifetime.js';
import type { Caller } from '../domain/context.js';
import { TENANT_ID_PATTERN, tenantExists } from '../domain/tenants/service.js';
import { Errors } from '../errors.js';

export interface AuthOptions {
  key: VerificationKey;
  issuer: string | undefined;
  audience: string | undefined;
  /** The longest lifetime (exp - iat) accepted, in seconds; undefined: no cap. */
  maxTtlSeconds?: number | undefined;
  pool: pg.Pool;
}

/** Paths that need a bearer token. Everything else (health, metrics, docs) is public. */
export const isProtectedPath = (url: string): boolean =>
  url.startsWith('/v1/') || url === '/v1' || url.startsWith('/graphql');

// A token's tenant is checked on every request; caching the answer briefly keeps that off the hot path.
const TENANT_CACHE_MS = 10_000;

const jwtFailure = (code: string | undefined, message: string): string => {
  switch (code) {
    case 'FST_JWT_NO_AUTHORIZATION_IN_HEADER':
      return 'Send Authorization: Bearer <token>.';
    case 'FST_JWT_BAD_REQUEST':
      return 'The Authorization header must be "Bearer <token>".';
    case 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED':
      return 'The token has expired.';
  }
  // fast-jwt's own text, kept only when it names a missing claim; anything else stays generic.
  const claim = code === 'FST_JWT_AUTHORIZATION_TOKEN_INVALID' ? /^The (\w+) claim is required\.$/.exec(message) : null;
  return claim
    ? `The token has no ${claim[1]} claim, which this service requires.`
    : 'The token is not valid for this service.';
};

async function authenticatePlugin(app: FastifyInstance, opts: AuthOptions): Promise<void> {
  await app.register(fastifyJwt, {
    secret: opts.key.algorithms[0] === 'HS256' ? opts.key.key : { public: opts.key.key },
    messages: { authorizationTokenInvalid: (err: Error) => err.message },
    verify: {
      algorithms: opts.key.algorithms,
      // fast-jwt checks allowedIss/allowedAud only on tokens that carry the claim, so a configured
      // issuer or audience must also be a required claim, or a token without it slips through.
      requiredClaims: ['exp', 'sub', ...(opts.issuer ? ['iss'] : []), ...(opts.audience ? ['aud'] : [])],
      ...(opts.issuer ? { allowedIss: opts.issuer } : {}),
      ...(opts.audience ? { allowedAud: opts.audience } : {}),
    },
  });
  const knownTenants = new Map<string, number>();

  async function checkTenant(tenant: string): Promise<void> {
    // Only a well-formed id reaches the lookup: a signed claim holding NUL would otherwise surface as
    // SQLSTATE 22021 (a 500), and odd ids would fill the cache. Malformed is as unknown as missing.
    if (!TENANT_ID_PATTERN.test(tenant)) throw Errors.unknownTenant(tenant.slice(0, 63));
    const seen = knownTenants.get(tenant);
    if (seen !== undefined && Date.now() - seen < TENANT_CACHE_MS) return;
    if (!(await tenantExists(opts.pool, tenant))) throw Errors.unknownTenant(tenant);
    if (knownTenants.size > 10_000) knownTenants.clear();
    knownTenants.set(tenant, Date.now());
  }

  async function authenticate(request: FastifyRequest): Promise<Caller> {
    let claims: Record<string, unknown>;
    try {
      claims = await request.jwtVerify<Record<string, unknown>>();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw Errors.unauthorized(jwtFailure(e.code, e.message ?? ''));
    }
    const lifetime = lifetimeProblem(claims, opts.maxTtlSeconds, Date.now() / 1000);
    if (lifetime) throw Errors.unauthorized(lifetime);
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub.length === 0) throw Errors.unauthorized('The token has no subject (sub).');
    const scopes = parseScopeClaim(claims.scope);
    const tenant = claims.tenant;
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
      throw Errors.unauthorized('The tenant claim must be a tenant id.');
    }
    if (typeof tenant === 'string') await checkTenant(tenant);
    else if (!scopes.has(ADMIN_SCOPE)) throw Errors.tenantRequired();
    request.tokenExpiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : null;
    return { actor: sub, tenantId: tenant ?? null, scopes, requestId: request.id };
  }

  app.decorateRequest('caller', null);
  app.decorateRequest('tokenExpiresAt', null);
  app.addHook('onRequest', async (request) => {
    if (isProtectedPath(request.url)) request.caller = await authenticate(request);
  });
}

/** Verifies bearer tokens on protected paths and sets request.caller. */
export const authentication = fp(authenticatePlugin, { name: 'pgsteward-authenticate' });
