import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Errors } from '../../errors.js';
import { categorised } from './connect-failure.js';

/**
 * The SSRF guard for tenant-supplied database hosts. A tenant names a host; pgsteward connects to it from
 * inside our network. Without this guard a tenant could aim pg_dump or a health check at the cloud
 * metadata service, at services on our loopback, or at a local Unix socket.
 *
 * The host is resolved once here and callers connect to exactly the checked address (libpq `hostaddr=`,
 * node-postgres `host: address`), so a DNS answer that changes between check and connect (DNS
 * rebinding) cannot redirect the connection.
 */

export interface TargetNetworkPolicy {
  /** PGSTEWARD_TARGET_ALLOWLIST: CIDRs ("10.0.0.0/8"), addresses, DNS suffixes (".db.example.com"), names. */
  allowlist: string[];
  /** Let targets on 127.0.0.0/8 and ::1 through (embedded mode and tests). */
  allowLoopback: boolean;
}

export interface CheckedAddress {
  /** The name as the user gave it: for TLS verification (servername) and the passfile. */
  host: string;
  /** The address to connect to, which passed the checks. */
  address: string;
  family: 4 | 6;
}

/** Resolves a name to all its addresses; injectable so tests can make names resolve anywhere. */
export type LookupAll = (host: string) => Promise<Array<{ address: string; family: number }>>;

const MAX_HOST_LENGTH = 253;

type Family = 'ipv4' | 'ipv6';

function subnets(entries: Array<[string, number, Family]>): BlockList {
  const list = new BlockList();
  for (const [network, prefix, family] of entries) list.addSubnet(network, prefix, family);
  return list;
}

/** Never reachable, whatever the allowlist says. BlockList also matches IPv4-mapped IPv6 (::ffff:a.b.c.d). */
const ALWAYS_REFUSED: Array<{ why: string; list: BlockList }> = [
  {
    why: 'a link-local address (where cloud metadata services live)',
    list: subnets([
      ['169.254.0.0', 16, 'ipv4'],
      ['fe80::', 10, 'ipv6'],
    ]),
  },
  { why: 'the AWS instance metadata service', list: subnets([['fd00:ec2::254', 128, 'ipv6']]) },
  {
    // Connecting to 0.0.0.0 or :: reaches the local host on Linux.
    why: 'an unspecified address',
    list: subnets([
      ['0.0.0.0', 8, 'ipv4'],
      ['::', 128, 'ipv6'],
    ]),
  },
  {
    why: 'a multicast, broadcast or reserved address',
    list: subnets([
      ['224.0.0.0', 3, 'ipv4'], // 224/4 multicast and 240/4 reserved, incl. 255.255.255.255
      ['ff00::', 8, 'ipv6'],
    ]),
  },
];

const LOOPBACK = subnets([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);

export const isLoopbackAddress = (address: string): boolean =>
  isIP(address) !== 0 && LOOPBACK.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');

interface Allowlist {
  cidrs: BlockList;
  hasCidrs: boolean;
  /** Lower case, without a trailing dot; ".example.com" matches below example.com, "db.example.com" exactly. */
  names: string[];
  empty: boolean;
}

function allowlistError(entry: string, why: string): Error {
  return new Error(`PGSTEWARD_TARGET_ALLOWLIST entry '${entry}' is not usable: ${why}`);
}

/** Parses PGSTEWARD_TARGET_ALLOWLIST entries; throws an Error naming the variable and the bad entry. */
export function parseTargetAllowlist(entries: string[]): Allowlist {
  const cidrs = new BlockList();
  const names: string[] = [];
  let hasCidrs = false;
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [network = '', prefixText, extra] = entry.split('/');
    const family = isIP(network);
    if (family !== 0) {
      if (extra !== undefined) throw allowlistError(raw, 'more than one "/"');
      const max = family === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) {
        throw allowlistError(raw, `the prefix length must be a whole number from 0 to ${max}`);
      }
      cidrs.addSubnet(network, prefix, family === 4 ? 'ipv4' : 'ipv6');
      hasCidrs = true;
      continue;
    }
    if (entry.includes('/')) throw allowlistError(raw, 'the part before "/" is not an IP address');
    const name = entry.toLowerCase().replace(/\.$/, '');
    if (!/^\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) {
      throw allowlistError(raw, 'expected a CIDR (10.0.0.0/8), an address, a DNS suffix (.db.example.com) or a name');
    }
    names.push(name);
  }
  return { cidrs, hasCidrs, names, empty: !hasCidrs && names.length === 0 };
}

function nameIsAllowlisted(host: string, allowlist: Allowlist): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return allowlist.names.some((entry) =>
    entry.startsWith('.') ? name.endsWith(entry) && name.length > entry.length : name === entry,
  );
}

function familyOf(address: string): Family {
  return isIP(address) === 4 ? 'ipv4' : 'ipv6';
}

/** The IPv4 address inside a NAT64 address (64:ff9b::/96), which a NAT64 gateway would connect to. */
function nat64Embedded(address: string): string | undefined {
  const match = /^64:ff9b::(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (match === null) return undefined;
  if (match[1] !== undefined) return match[1];
  const high = Number.parseInt(match[2] ?? '0', 16);
  const low = Number.parseInt(match[3] ?? '0', 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Why `address` may not be reached, or undefined when it may. */
function refusalReason(address: string, host: string, policy: TargetNetworkPolicy, allowlist: Allowlist) {
  const candidates = [address, nat64Embedded(address)].filter((a): a is string => a !== undefined);
  for (const candidate of candidates) {
    const family = familyOf(candidate);
    const refused = ALWAYS_REFUSED.find(({ list }) => list.check(candidate, family));
    if (refused !== undefined) return `${address} is ${refused.why}`;
    const inAllowlistedCidr = allowlist.hasCidrs && allowlist.cidrs.check(candidate, family);
    // A DNS suffix never opens loopback: a tenant may control records below an allowlisted suffix.
    if (LOOPBACK.check(candidate, family) && !policy.allowLoopback && !inAllowlistedCidr) {
      return `${address} is a loopback address`;
    }
  }
  if (!allowlist.empty) {
    const family = familyOf(address);
    if (!(allowlist.hasCidrs && allowlist.cidrs.check(address, family)) && !nameIsAllowlisted(host, allowlist)) {
      return `${address} is not in PGSTEWARD_TARGET_ALLOWLIST`;
    }
  }
  return undefined;
}

function refuse(host: string, why: string): Error {
  return Errors.targetHostRefused(`The host '${host}' is refused: ${why}.`);
}

/**
 * Checks the text of `host` without resolving it (no Unix socket, no host list, no odd characters);
 * throws Errors.targetHostRefused. resolveTargetAddress runs it too.
 */
export function assertPlausibleHost(host: string): void {
  const shown = host.length > 80 ? `${host.slice(0, 80)}...` : host;
  if (host === '') throw Errors.targetHostRefused('The host is empty.');
  if (host.startsWith('/') || host.startsWith('@')) throw refuse(shown, 'it is a Unix-socket path, not a network host');
  if (host.includes(',')) throw refuse(shown, 'it is a list of hosts; give exactly one');
  if (host.replace(/\.$/, '').length > MAX_HOST_LENGTH) {
    throw refuse(shown, `it is longer than ${MAX_HOST_LENGTH} characters`);
  }
  if (host.includes('%')) throw refuse(shown, 'IPv6 zone identifiers are not accepted');
  if (!/^[A-Za-z0-9._:-]+$/.test(host) || (host.includes(':') && isIP(host) !== 6)) {
    throw refuse(shown, 'it is not a host name or IP address');
  }
}

export const systemLookup: LookupAll = (host) =>
  // IPv4 first: most database servers listen on IPv4, and the order is then the same on every machine.
  lookup(host, { all: true, verbatim: false });

async function resolveAll(host: string, lookupAll: LookupAll) {
  try {
    return await lookupAll(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_NONAME') {
      throw Errors.targetHostRefused(`The host '${host}' does not resolve to any address.`);
    }
    throw categorised(
      Errors.targetConnectionFailed(`Could not resolve the host '${host}' (${code ?? 'lookup failed'}).`),
      'dns',
    );
  }
}

/**
 * Resolves `host` once and returns the address to connect to, or throws Errors.targetHostRefused. If
 * any address the name resolves to is forbidden, the whole host is refused: a name with one good and
 * one forbidden address is suspicious, and libpq would try them all.
 */
export async function resolveTargetAddress(
  host: string,
  policy: TargetNetworkPolicy,
  options: { lookup?: LookupAll } = {},
): Promise<CheckedAddress> {
  assertPlausibleHost(host);
  const allowlist = parseTargetAllowlist(policy.allowlist);
  const addresses = await resolveAll(host, options.lookup ?? systemLookup);
  const first = addresses[0];
  if (first === undefined) throw Errors.targetHostRefused(`The host '${host}' does not resolve to any address.`);
  for (const { address } of addresses) {
    if (isIP(address) === 0) throw refuse(host, `the resolver returned '${address}', which is not an address`);
    const why = refusalReason(address, host, policy, allowlist);
    if (why !== undefined) throw refuse(host, why);
  }
  return { host, address: first.address, family: isIP(first.address) === 4 ? 4 : 6 };
}
