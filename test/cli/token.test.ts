import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDecoder } from 'fast-jwt';
import t from 'tap';
import { lifetimeProblem, parseTtl } from '../../src/auth/token-lifetime.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { tsNodeArgs, tsNodeEnv } from '../helpers/ts-node-args.js';

const SECRET = 'cli-test-secret-that-is-long-enough-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'pgsteward-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run token -- ...` as the user runs it (the sources, not a build), with only the given env. */
async function token(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [...tsNodeArgs(), join(PROJECT_ROOT, 'src', 'cli', 'token.ts'), ...args],
      {
        env: {
          ...tsNodeEnv(),
          PATH: process.env.PATH ?? '',
          PGSTEWARD_DATA_DIR: dir,
          PGSTEWARD_JWT_SECRET: SECRET,
          ...env,
        },
        cwd: PROJECT_ROOT,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const lifetimeOf = (jwt: string) => {
  const claims = createDecoder()(jwt.trim()) as { iat: number; exp: number };
  return claims.exp - claims.iat;
};

t.test('the token CLI refuses a ttl above PGSTEWARD_JWT_MAX_TTL_SECONDS with a clear message', async (t) => {
  const res = await token(['--tenant', 'acme', '--scope', 'targets:read', '--ttl', '1h'], {
    PGSTEWARD_JWT_MAX_TTL_SECONDS: '600',
  });
  t.equal(res.code, 2);
  t.equal(res.stdout, '', 'no token is printed');
  t.match(res.stderr, /--ttl '1h' is 3600 s, longer than PGSTEWARD_JWT_MAX_TTL_SECONDS \(600 s\)/);
});

t.test('within the cap it mints a token of that lifetime; without --ttl, 1h or the cap if shorter', async (t) => {
  const capped = { PGSTEWARD_JWT_MAX_TTL_SECONDS: '600' };
  const five = await token(['--tenant', 'acme', '--scope', 'targets:read', '--ttl', '5m'], capped);
  t.equal(five.code, 0, five.stderr);
  t.equal(lifetimeOf(five.stdout), 300);
  t.equal(lifetimeOf((await token(['--tenant', 'acme', '--scope', 'targets:read'], capped)).stdout), 600);
  t.equal(lifetimeOf((await token(['--tenant', 'acme', '--scope', 'targets:read'])).stdout), 3600, 'default cap 24h');
});

t.test('parseTtl reads durations and enforces the cap', async (t) => {
  t.equal(parseTtl('90'), 90);
  t.equal(parseTtl('15m'), 900);
  t.equal(parseTtl('24h', 86400), 86400, 'exactly the cap is fine');
  t.throws(() => parseTtl('25h', 86400), /longer than PGSTEWARD_JWT_MAX_TTL_SECONDS/);
  t.throws(() => parseTtl('soon'), /not a duration/);
  t.throws(() => parseTtl('0'), /not a duration/);
});

t.test('lifetimeProblem: no cap accepts anything; with one, iat is needed and bounds the lifetime', async (t) => {
  const now = 1_700_000_000;
  t.equal(lifetimeProblem({}, undefined, now), null);
  t.match(lifetimeProblem({ exp: now + 60 }, 3600, now), /no issued-at time/);
  t.match(lifetimeProblem({ iat: now }, 3600, now), /no expiry/);
  t.equal(lifetimeProblem({ iat: now, exp: now + 3600 }, 3600, now), null);
  t.match(lifetimeProblem({ iat: now, exp: now + 3601 }, 3600, now), /at most 3600 s/);
  t.equal(lifetimeProblem({ iat: now + 60, exp: now + 120 }, 3600, now), null, 'a minute of clock skew');
  t.match(lifetimeProblem({ iat: now + 61, exp: now + 120 }, 3600, now), /issued in the future/);
  t.match(lifetimeProblem({ iat: '1', exp: now }, 3600, now), /no issued-at time/, 'a string iat is not one');
});
