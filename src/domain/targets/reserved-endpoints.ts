import { isIP } from 'node:net';
import { Errors } from '../../errors.js';
import type { CheckedAddress, LookupAll } from './network-guard.js';
import { isLoopbackAddress, systemLookup } from './network-guard.js';

/**
 * pgsteward's own servers: the metadata store (DATABASE_URL) and the drill server (PGSTEWARD_DRILL_TARGET).
 * No tenant's target may point at them: a check against them would tell a tenant whether a password
 * of its choosing works there, and a backup or restore would run with whatever that password allows.
 */
export interface ReservedEndpoint {
  host: string;
  port: number;
  /** For the operator log; tenants are told only that the address is reserved. */
  what: 'metadata store' | 'drill server';
}

const DEFAULT_PORT = 5432;

function hostPort(text: string, defaultPort: number): { host: string; port: number } | undefined {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return { host: v6[1] ?? '', port: v6[2] ? Number(v6[2]) : defaultPort };
  const [host = '', port] = text.split(':');
  if (host === '') return undefined;
  return { host, port: port ? Number(port) : defaultPort };
}

/**
 * The TCP endpoints a DATABASE_URL names: every host of a host list, and the `host`/`port` query
 * parameters libpq also reads. Unix-socket directories are left out (sockets are refused as targets anyway).
 */
export function metadataStoreEndpoints(databaseUrl: string | undefined): ReservedEndpoint[] {
  if (databaseUrl === undefined) return [];
  const match = /^postgres(?:ql)?:\/\/(?:[^@/?]*@)?([^/?#]*)[^?#]*(?:\?([^#]*))?/.exec(databaseUrl);
  if (match === null) return [];
  const query = new URLSearchParams(match[2] ?? '');
  const queryPort = query.get('port');
  const defaultPort = queryPort && /^\d+$/.test(queryPort) ? Number(queryPort) : DEFAULT_PORT;
  const authority = decodeURIComponent(match[1] ?? '');
  const hosts = (query.get('host') ?? authority).split(',');
  const endpoints: ReservedEndpoint[] = [];
  for (const entry of hosts) {
    const parsed = hostPort(entry.trim(), defaultPort);
    if (parsed === undefined || parsed.host.startsWith('/')) continue;
    endpoints.push({ ...parsed, what: 'metadata store' });
  }
  return endpoints;
}

const sameName = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

async function addressesOf(host: string, lookup: LookupAll): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  try {
    return (await lookup(host)).map((a) => a.address);
  } catch {
    return []; // a reserved name that does not resolve now cannot be connected to now either
  }
}

/**
 * Throws Errors.targetHostRefused when `checked:port` is one of pgsteward's own servers: the same
 * name, an address one of their names resolves to, or, for a server on loopback, any loopback address
 * (127.0.0.2 reaches a server listening on 127.0.0.1's machine just as well).
 */
export async function assertNotReserved(
  checked: CheckedAddress,
  port: number,
  reserved: readonly ReservedEndpoint[],
  options: { lookup?: LookupAll } = {},
): Promise<void> {
  for (const endpoint of reserved) {
    if (endpoint.port !== port) continue;
    let hit = sameName(endpoint.host, checked.host);
    if (!hit) {
      const addresses = await addressesOf(endpoint.host, options.lookup ?? systemLookup);
      hit = addresses.some(
        (a) => a === checked.address || (isLoopbackAddress(a) && isLoopbackAddress(checked.address)),
      );
    }
    if (hit) {
      throw Errors.targetHostRefused(
        `The address ${checked.host}:${port} is reserved for pgsteward's own servers and cannot be a target.`,
      );
    }
  }
}
