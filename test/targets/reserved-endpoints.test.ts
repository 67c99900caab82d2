import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/domain/services.js';
import type { LookupAll } from '../../src/domain/targets/network-guard.js';
import { assertNotReserved, metadataStoreEndpoints } from '../../src/domain/targets/reserved-endpoints.js';

t.test('DATABASE_URL names the metadata store: every host of a list, query host/port, no sockets', async (t) => {
  const endpoints = (url?: string) => metadataStoreEndpoints(url).map((e) => `${e.host}:${e.port}`);
  t.same(endpoints(undefined), [], 'embedded mode: a Unix socket only');
  t.same(endpoints('postgres://u:p%40ss@db.internal/meta'), ['db.internal:5432']);
  t.same(endpoints('postgresql://u@db.internal:6543/meta?sslmode=require'), ['db.internal:6543']);
  t.same(endpoints('postgres://u@a.internal:5433,b.internal/meta'), ['a.internal:5433', 'b.internal:5432']);
  t.same(endpoints('postgres://u@[fd00::5]:5434/meta'), ['fd00::5:5434']);
  t.same(endpoints('postgres://u@/meta?host=/var/run/postgresql'), [], 'a socket directory is not a TCP endpoint');
  t.same(endpoints('postgres://u@ignored/meta?host=real.internal&port=7000'), ['real.internal:7000']);
  t.same(endpoints('mysql://nope'), []);
});

const lookup: LookupAll = async (host) => {
  if (host === 'meta.internal') return [{ address: '10.0.0.5', family: 4 }];
  if (host === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
};
const reserved = [
  { host: 'meta.internal', port: 5432, what: 'metadata store' as const },
  { host: 'localhost', port: 6000, what: 'drill server' as const },
  { host: 'gone.internal', port: 7000, what: 'drill server' as const },
];

t.test('a target is refused at a reserved address by name, resolved address, or any loopback', async (t) => {
  const refused = (host: string, address: string, port: number) =>
    t.rejects(
      assertNotReserved({ host, address, family: 4 }, port, reserved, { lookup }),
      { code: 'PGS_TARGET_HOST_REFUSED', message: /reserved for pgsteward's own servers/ },
      `${host} (${address}):${port}`,
    );
  await refused('META.internal.', '10.0.0.9', 5432);
  await refused('alias.example', '10.0.0.5', 5432);
  await refused('127.0.0.2', '127.0.0.2', 6000);
  await refused('gone.internal', '10.9.9.9', 7000);
  await assertNotReserved({ host: 'meta.internal', address: '10.0.0.5', family: 4 }, 5433, reserved, { lookup });
  await assertNotReserved({ host: 'other', address: '10.0.0.6', family: 4 }, 5432, reserved, { lookup });
  await assertNotReserved({ host: 'other', address: '10.0.0.6', family: 4 }, 7000, reserved, { lookup });
  t.pass('other ports and addresses pass');
});

t.test('createServices reserves DATABASE_URL and the drill server its secret names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsteward-reserved-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secretsFile = join(dir, 'secrets.json');
  writeFileSync(
    secretsFile,
    JSON.stringify({ 'ops/drill': { username: 'u', password: 'p', host: 'drill.internal' } }),
    {
      mode: 0o600,
    },
  );
  const env = {
    DATABASE_URL: 'postgres://u@meta.internal:6543/meta',
    PGSTEWARD_SECRETS_FILE: secretsFile,
    PGSTEWARD_DATA_DIR: dir,
  };
  const services = createServices(loadConfig({ ...env, PGSTEWARD_DRILL_TARGET: 'file:ops/drill' }));
  t.same(await services.reservedEndpoints(), [
    { host: 'meta.internal', port: 6543, what: 'metadata store' },
    { host: 'drill.internal', port: 5432, what: 'drill server' },
  ]);
  await t.rejects(
    services.secretBinding.assertBound('ops', 'file:ops/drill'),
    { code: 'PGS_SECRET_NOT_FOUND' },
    "the drill server's secret is no tenant's, even in a namespace-shaped key",
  );
  const broken = createServices(loadConfig({ ...env, PGSTEWARD_DRILL_TARGET: 'file:ops/missing' }));
  const err = await broken.reservedEndpoints().then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  t.match(err?.message, /PGSTEWARD_DRILL_TARGET could not be read/, 'fails closed');
  t.notMatch(String(err?.message), /ops\/missing/, 'without naming the ref to whoever sees the error');
  t.same(await createServices(loadConfig(env)).reservedEndpoints(), [
    { host: 'meta.internal', port: 6543, what: 'metadata store' },
  ]);
});
