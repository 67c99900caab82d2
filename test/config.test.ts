import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';

t.test('with nothing set, the defaults make embedded mode work', async (t) => {
  const c = loadConfig({});
  t.equal(c.host, '127.0.0.1');
  t.equal(c.port, 8080);
  t.equal(c.embedded, true);
  t.equal(c.databaseUrl, undefined);
  t.match(c.dataDir, /\.pgsteward$/);
  t.equal(c.graphql.graphiql, true, 'GraphiQL defaults on in embedded mode');
  t.equal(c.logLevel, 'info');
});

t.test('with DATABASE_URL, GraphiQL defaults off', async (t) => {
  const c = loadConfig({ DATABASE_URL: 'postgres://u@h/db' });
  t.equal(c.embedded, false);
  t.equal(c.graphql.graphiql, false);
});

t.test('bad values stop start-up with every variable named', async (t) => {
  const err = t.throws(() =>
    loadConfig({
      PORT: '99999',
      DATABASE_URL: 'mysql://nope',
      LOG_LEVEL: 'loud',
      PGSTEWARD_JWT_SECRET: 'short',
      PGSTEWARD_GRAPHIQL: 'maybe',
    }),
  ) as ConfigError;
  t.type(err, ConfigError);
  for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'PGSTEWARD_JWT_SECRET', 'PGSTEWARD_GRAPHIQL']) {
    t.ok(
      err.problems.some((p) => p.startsWith(`${name}:`)),
      `names ${name}`,
    );
  }
  t.match(err.message, /PORT: must be at most 65535/);
});

t.test('a secret and a public key together are refused', async (t) => {
  t.throws(
    () => loadConfig({ PGSTEWARD_JWT_SECRET: 'x'.repeat(40), PGSTEWARD_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----' }),
    /set one or the other/,
  );
});

t.test('X_FILE variants read secrets from files, and X with X_FILE is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsteward-config-'));
  t.teardown(() => import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true })));
  const file = join(dir, 'jwt');
  writeFileSync(file, `${'s'.repeat(40)}\n`, { mode: 0o600 });
  t.equal(loadConfig({ PGSTEWARD_JWT_SECRET_FILE: file }).jwt.secret, 's'.repeat(40), 'trailing newline trimmed');
  t.throws(() => loadConfig({ PGSTEWARD_JWT_SECRET: 's'.repeat(40), PGSTEWARD_JWT_SECRET_FILE: file }), /not both/);
  t.throws(() => loadConfig({ DATABASE_URL_FILE: join(dir, 'missing') }), /DATABASE_URL_FILE: cannot read/);
});

t.test('an empty variable counts as unset', async (t) => {
  t.equal(loadConfig({ PORT: '', DATABASE_URL: '' }).port, 8080);
});

t.test('the leader interval: PGSTEWARD_LEADER_INTERVAL_SECONDS, or its former name, or 15 s', async (t) => {
  t.equal(loadConfig({}).leader.intervalMs, 15_000);
  t.equal(loadConfig({ PGSTEWARD_DRILL_INTERVAL_SECONDS: '30' }).leader.intervalMs, 30_000, 'the old name still works');
  t.equal(loadConfig({ PGSTEWARD_LEADER_INTERVAL_SECONDS: '5' }).leader.intervalMs, 5_000);
  t.equal(
    loadConfig({ PGSTEWARD_LEADER_INTERVAL_SECONDS: '5', PGSTEWARD_DRILL_INTERVAL_SECONDS: '30' }).leader.intervalMs,
    5_000,
    'the general name wins',
  );
  t.throws(() => loadConfig({ PGSTEWARD_DRILL_INTERVAL_SECONDS: '0' }), /PGSTEWARD_DRILL_INTERVAL_SECONDS/);
});

t.test('PGSTEWARD_JWT_MAX_TTL_SECONDS caps token lifetimes: 24h by default, 0 turns it off', async (t) => {
  t.equal(loadConfig({}).jwt.maxTtlSeconds, 86400, 'the printed operator token (24h) just fits');
  t.equal(loadConfig({ PGSTEWARD_JWT_MAX_TTL_SECONDS: '900' }).jwt.maxTtlSeconds, 900);
  t.equal(loadConfig({ PGSTEWARD_JWT_MAX_TTL_SECONDS: '0' }).jwt.maxTtlSeconds, undefined);
  t.throws(
    () => loadConfig({ PGSTEWARD_JWT_MAX_TTL_SECONDS: '-1' }),
    /PGSTEWARD_JWT_MAX_TTL_SECONDS: must be at least 0/,
  );
  t.throws(
    () => loadConfig({ PGSTEWARD_JWT_MAX_TTL_SECONDS: '1h' }),
    /PGSTEWARD_JWT_MAX_TTL_SECONDS: must be a whole number/,
  );
});
