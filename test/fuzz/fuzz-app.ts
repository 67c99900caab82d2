import type { Test } from 'tap';
import { SCOPES } from '../../src/auth/scopes.js';
import { bearer, buildTestApp } from '../helpers/app.js';

/** A fuzz run's bounds: FUZZ_RUNS and FUZZ_TIME_MS resize it, FUZZ_SEED replays one. */
export function fuzzBudget(defaults: { runs: number; timeMs: number }) {
  return {
    numRuns: Number(process.env.FUZZ_RUNS ?? defaults.runs),
    timeMs: Number(process.env.FUZZ_TIME_MS ?? defaults.timeMs),
    seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31),
  };
}

/**
 * The app the fuzzers drive: tenant acme, a token holding every scope, and one real target, so that
 * some requests reach past "not found" into the services.
 */
export async function fuzzApp(t: Test) {
  const test = await buildTestApp(t);
  await test.seedTenants('acme');
  const all = test.token('acme', [...SCOPES]);
  test.writeSecrets({
    'acme/main': { username: 'nobody', password: 'secret', host: '127.0.0.1', port: test.db.cluster.port },
  });
  const target = await test.app.inject({
    method: 'POST',
    url: '/v1/targets',
    headers: bearer(all),
    payload: { name: 'main', secretRef: 'file:acme/main', database: 'postgres' },
  });
  return { ...test, all, targetId: target.json().id as string, targetStatus: target.statusCode };
}
