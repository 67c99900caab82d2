import { parseArgs } from 'node:util';
import { mintToken } from '../auth/mint.js';
import { isScope, SCOPES, type Scope } from '../auth/scopes.js';
import { resolveSigningSecret } from '../auth/signing-key.js';
import { parseTtl } from '../auth/token-lifetime.js';
import { loadConfig } from '../config.js';
import { TENANT_ID_PATTERN } from '../domain/tenants/service.js';

const USAGE = `usage: npm run token -- --scope "<scopes>" [--tenant <id>] [--sub <actor>] [--ttl 1h]

Mints an HS256 token with the configured PGSTEWARD_JWT_SECRET (or the embedded one in the data dir).
The ttl defaults to 1h (or PGSTEWARD_JWT_MAX_TTL_SECONDS if shorter) and may not exceed that cap.
Scopes: ${SCOPES.join(' ')}`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      scope: { type: 'string' },
      sub: { type: 'string', default: 'cli' },
      ttl: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.scope) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const requested = values.scope.split(/\s+/).filter(Boolean);
  const unknown = requested.filter((s) => !isScope(s));
  if (unknown.length > 0) throw new Error(`unknown scope ${unknown.join(', ')}; known: ${SCOPES.join(' ')}`);
  if (values.tenant !== undefined && !TENANT_ID_PATTERN.test(values.tenant)) {
    throw new Error(`--tenant '${values.tenant}' is not a tenant id (^[a-z][a-z0-9-]{1,62}$)`);
  }
  if (values.tenant === undefined && !requested.includes('tenants:admin')) {
    throw new Error('--tenant is required unless the token is an operator token (scope tenants:admin)');
  }
  const config = loadConfig();
  const cap = config.jwt.maxTtlSeconds;
  const ttlSeconds = values.ttl === undefined ? Math.min(3600, cap ?? 3600) : parseTtl(values.ttl, cap);
  const token = mintToken({
    secret: await resolveSigningSecret(config),
    sub: values.sub,
    ...(values.tenant ? { tenant: values.tenant } : {}),
    scopes: requested as Scope[],
    ttlSeconds,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
