import { parseArgs } from 'node:util';
import { mintToken } from '../auth/mint.js';
import { isScope, SCOPES, type Scope } from '../auth/scopes.js';
import { resolveSigningSecret } from '../auth/signing-key.js';
import { loadConfig } from '../config.js';
import { TENANT_ID_PATTERN } from '../domain/tenants/service.js';

const USAGE = `usage: npm run token -- --scope "<scopes>" [--tenant <id>] [--sub <actor>] [--ttl 1h]

Mints an HS256 token with the configured PGSTEWARD_JWT_SECRET (or the embedded one in the data dir).
Scopes: ${SCOPES.join(' ')}`;

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "15m", "1h", "7d" -> seconds. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * (TTL_UNITS[match[2] || 's'] ?? 1) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 366 * 86400) {
    throw new Error(`--ttl '${text}' is not a duration like 90, 15m, 1h or 7d (at most a year)`);
  }
  return seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      scope: { type: 'string' },
      sub: { type: 'string', default: 'cli' },
      ttl: { type: 'string', default: '1h' },
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
  const token = mintToken({
    secret: await resolveSigningSecret(config),
    sub: values.sub,
    ...(values.tenant ? { tenant: values.tenant } : {}),
    scopes: requested as Scope[],
    ttlSeconds: parseTtl(values.ttl),
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
