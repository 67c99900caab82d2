import t from 'tap';
import {
  type LookupAll,
  parseTargetAllowlist,
  resolveTargetAddress,
  type TargetNetworkPolicy,
} from '../../src/domain/targets/network-guard.js';
import { isPgStewardError } from '../../src/errors.js';

const open: TargetNetworkPolicy = { allowlist: [], allowLoopback: false };

/** A resolver answering from a table, for names we cannot make real DNS return. */
const fakeDns =
  (records: Record<string, string[]>): LookupAll =>
  async (host) => {
    const addresses = records[host];
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

async function outcome(host: string, policy: TargetNetworkPolicy, lookup?: LookupAll): Promise<string> {
  try {
    const checked = await resolveTargetAddress(host, policy, lookup === undefined ? {} : { lookup });
    return `ok ${checked.address}`;
  } catch (err) {
    if (isPgStewardError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
}

t.test('literal addresses and host strings', async (t) => {
  const cases: Array<[string, Partial<TargetNetworkPolicy>, RegExp]> = [
    ['10.1.2.3', {}, /^ok 10\.1\.2\.3$/],
    ['192.168.0.10', {}, /^ok /],
    ['2001:db8::5', {}, /^ok 2001:db8::5$/],
    ['169.254.169.254', {}, /REFUSED.*link-local/],
    ['169.254.169.254', { allowlist: ['169.254.0.0/16'] }, /REFUSED.*link-local/], // always, even allowlisted
    ['fe80::1', {}, /REFUSED.*link-local/],
    ['febf::1', {}, /REFUSED.*link-local/],
    ['::ffff:169.254.1.1', {}, /REFUSED.*link-local/], // IPv4-mapped IPv6
    ['::ffff:a9fe:101', {}, /REFUSED.*link-local/], // the same, in hex
    ['64:ff9b::a9fe:a9fe', {}, /REFUSED.*link-local/], // NAT64 of 169.254.169.254
    ['fd00:ec2::254', {}, /REFUSED.*metadata/],
    ['0.0.0.0', {}, /REFUSED.*unspecified/],
    ['::', {}, /REFUSED.*unspecified/],
    ['224.0.0.1', {}, /REFUSED.*multicast/],
    ['255.255.255.255', {}, /REFUSED.*broadcast/],
    ['ff02::1', {}, /REFUSED.*multicast/],
    ['127.0.0.1', {}, /REFUSED.*loopback/],
    ['127.8.9.10', {}, /REFUSED.*loopback/],
    ['::1', {}, /REFUSED.*loopback/],
    ['::ffff:127.0.0.1', {}, /REFUSED.*loopback/],
    ['127.0.0.1', { allowLoopback: true }, /^ok 127\.0\.0\.1$/],
    ['127.0.0.1', { allowlist: ['127.0.0.0/8'] }, /^ok /],
    ['::1', { allowlist: ['::1'] }, /^ok ::1$/],
    ['/var/run/postgresql', {}, /REFUSED.*Unix-socket path/],
    ['@abstract', {}, /REFUSED.*Unix-socket path/],
    ['db1,db2', {}, /REFUSED.*list of hosts/],
    ['10.0.0.1,169.254.169.254', {}, /REFUSED.*list of hosts/],
    ['', {}, /REFUSED.*empty/],
    ['a'.repeat(63).concat('.').repeat(4).concat('com'), {}, /REFUSED.*longer than 253/],
    ['fe80::1%eth0', {}, /REFUSED.*zone/],
    ['host name', {}, /REFUSED.*not a host name/],
    ["db'x", {}, /REFUSED.*not a host name/],
    ['db:5432', {}, /REFUSED.*not a host name/],
    ['10.1.2.3', { allowlist: ['10.0.0.0/8'] }, /^ok /],
    ['11.1.2.3', { allowlist: ['10.0.0.0/8'] }, /REFUSED.*not in PGSTEWARD_TARGET_ALLOWLIST/],
    ['2001:db8::5', { allowlist: ['2001:db8::/32'] }, /^ok /],
    ['2001:db9::5', { allowlist: ['2001:db8::/32'] }, /REFUSED.*not in PGSTEWARD_TARGET_ALLOWLIST/],
  ];
  for (const [host, policy, expected] of cases) {
    t.match(await outcome(host, { ...open, ...policy }), expected, `${host} ${JSON.stringify(policy)}`);
  }
});

t.test('names are resolved once and every address must pass', async (t) => {
  const dns = fakeDns({
    'db.internal.example.com': ['10.0.0.5', '10.0.0.6'],
    'mixed.example.com': ['10.0.0.5', '169.254.169.254'],
    'rebind.internal.example.com': ['127.0.0.1'],
    'v6only.example.com': ['2001:db8::7'],
    'internal.example.com': ['10.0.0.9'],
    'evilinternal.example.com': ['10.0.0.9'],
    'metadata.internal.example.com': ['169.254.169.254'],
    'DB.Internal.Example.COM.': ['10.0.0.5'],
  });
  const suffix = { allowlist: ['.internal.example.com'], allowLoopback: false };
  const cases: Array<[string, TargetNetworkPolicy, RegExp]> = [
    ['db.internal.example.com', open, /^ok 10\.0\.0\.5$/],
    ['mixed.example.com', open, /REFUSED.*169\.254\.169\.254 is a link-local/],
    ['v6only.example.com', open, /^ok 2001:db8::7$/],
    ['nowhere.example.com', open, /REFUSED.*does not resolve/],
    ['db.internal.example.com', suffix, /^ok /],
    ['DB.Internal.Example.COM.', suffix, /^ok /],
    ['internal.example.com', suffix, /REFUSED.*not in PGSTEWARD_TARGET_ALLOWLIST/], // suffix means below it
    ['evilinternal.example.com', suffix, /REFUSED.*not in PGSTEWARD_TARGET_ALLOWLIST/],
    ['v6only.example.com', suffix, /REFUSED.*not in PGSTEWARD_TARGET_ALLOWLIST/],
    ['rebind.internal.example.com', suffix, /REFUSED.*loopback/], // a suffix never opens loopback
    ['metadata.internal.example.com', suffix, /REFUSED.*link-local/],
    ['internal.example.com', { allowlist: ['internal.example.com'], allowLoopback: false }, /^ok /],
    ['v6only.example.com', { allowlist: ['.internal.example.com', '2001:db8::/32'], allowLoopback: false }, /^ok /],
  ];
  for (const [host, policy, expected] of cases) {
    t.match(await outcome(host, policy, dns), expected, `${host} ${JSON.stringify(policy.allowlist)}`);
  }
});

t.test('the checked address and the original name come back together', async (t) => {
  const checked = await resolveTargetAddress('db.internal.example.com', open, {
    lookup: fakeDns({ 'db.internal.example.com': ['10.0.0.5'] }),
  });
  t.same(checked, { host: 'db.internal.example.com', address: '10.0.0.5', family: 4 });
});

t.test('real DNS: localhost resolves to loopback, refused unless loopback is allowed', async (t) => {
  t.match(await outcome('localhost', open), /PGS_TARGET_HOST_REFUSED: .*loopback/);
  const checked = await resolveTargetAddress('localhost', { allowlist: [], allowLoopback: true });
  t.equal(checked.host, 'localhost');
  t.match(checked.address, /^(127\.\d+\.\d+\.\d+|::1)$/);
  t.equal(checked.family, checked.address.includes(':') ? 6 : 4);
});

t.test('unusable allowlist entries are refused with an error naming PGSTEWARD_TARGET_ALLOWLIST', async (t) => {
  for (const bad of ['10.0.0.0/33', '10.0.0.0/x', '::/129', 'not a host', '*.example.com', 'db/24', '10.0.0.0/8/1']) {
    t.throws(
      () => parseTargetAllowlist([bad]),
      new RegExp(`PGSTEWARD_TARGET_ALLOWLIST entry '${bad.replace(/[.*/]/g, '\\$&')}'`),
      bad,
    );
  }
  await t.rejects(resolveTargetAddress('10.0.0.1', { allowlist: ['10.0.0.0/40'], allowLoopback: false }), {
    message: /PGSTEWARD_TARGET_ALLOWLIST/,
  });
  t.doesNotThrow(() =>
    parseTargetAllowlist(['10.0.0.0/8', ' .db.example.com ', 'db.example.com', '2001:db8::/32', '']),
  );
});
