import { createSigner } from 'fast-jwt';
import type { Scope } from './scopes.js';

export interface MintOptions {
  secret: string;
  sub: string;
  tenant?: string;
  scopes: Scope[];
  ttlSeconds: number;
  issuer?: string;
  audience?: string;
}

/** Mint an HS256 token in the shape pgsteward expects (sub, tenant, scope, exp). */
export function mintToken(o: MintOptions): string {
  const sign = createSigner({
    key: o.secret,
    algorithm: 'HS256',
    expiresIn: o.ttlSeconds * 1000,
    ...(o.issuer ? { iss: o.issuer } : {}),
    ...(o.audience ? { aud: o.audience } : {}),
  });
  return sign({ sub: o.sub, scope: o.scopes.join(' '), ...(o.tenant ? { tenant: o.tenant } : {}) });
}
