export const SCOPES = [
  'tenants:admin',
  'tenants:read',
  'audit:read',
  'targets:read',
  'targets:write',
  'backups:read',
  'backups:write',
  'restores:write',
  'jobs:read',
  'jobs:write',
  'roles:read',
  'roles:write',
  'health:read',
  'health:write',
  'maintenance:write',
] as const;

export type Scope = (typeof SCOPES)[number];

/** The platform-operator scope: sees every tenant and needs no tenant claim. */
export const ADMIN_SCOPE: Scope = 'tenants:admin';

const known = new Set<string>(SCOPES);
export const isScope = (s: string): s is Scope => known.has(s);

/** Split a `scope` claim; unknown scopes are ignored rather than trusted. */
export function parseScopeClaim(claim: unknown): Set<Scope> {
  if (typeof claim !== 'string') return new Set();
  return new Set(claim.split(/\s+/).filter(isScope));
}
