import fc from 'fast-check';
import t from 'tap';
import { loadOpenApiDocument } from '../../src/http/contract.js';
import { fuzzApp, fuzzBudget } from './fuzz-app.js';
import { type FuzzRequest, fuzzOperations, requestFor } from './openapi-requests.js';

/**
 * Malformed input never gets a 5xx. Requests are generated from openapi/openapi.yaml itself, so a new
 * operation is fuzzed without anyone writing a line here. Bounded by count and by time (numRuns,
 * FUZZ_TIME_MS); the seed is printed, and FUZZ_SEED replays a run.
 */
const { numRuns: NUM_RUNS, timeMs: TIME_MS, seed: SEED } = fuzzBudget({ runs: 1500, timeMs: 40_000 });
const { app, all, targetId, targetStatus } = await fuzzApp(t);

const ops = fuzzOperations(loadOpenApiDocument());
const pools: Record<string, fc.Arbitrary<string>> = {
  targetId: fc.oneof(fc.constant(targetId), fc.uuid()),
  tenantId: fc.constantFrom('acme', 'globex'),
};
const requests = fc.oneof(...ops.map((op) => requestFor(op, all, pools)));

interface Finding {
  request: string;
  status: number;
  why: string;
}

/** Why a response breaks the rule, or null: below 500, and every 4xx a problem+json with a code. */
function ruleBroken(res: { statusCode: number; headers: Record<string, unknown>; body: string }): string | null {
  if (res.statusCode >= 500) return `answered ${res.statusCode}: ${res.body.slice(0, 300)}`;
  if (res.statusCode < 400) return null;
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) return 'not problem+json';
  try {
    const code = (JSON.parse(res.body) as { code?: unknown }).code;
    return typeof code === 'string' && /^PGS_[A-Z_]+$/.test(code) ? null : `no PGS_ code: ${res.body.slice(0, 200)}`;
  } catch {
    return 'a body that is not JSON';
  }
}

t.test('malformed REST requests to every operation get a 4xx problem+json with a code, never a 5xx', async (t) => {
  t.equal(targetStatus, 201, 'the seeded target exists');
  const findings: Finding[] = [];
  const statuses = new Map<number, number>();
  const perOperation = new Map<string, number>();
  const exercise = async (req: FuzzRequest) => {
    const res = await app.inject(req.inject);
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    perOperation.set(req.operationId, (perOperation.get(req.operationId) ?? 0) + 1);
    const why = ruleBroken(res);
    if (why) findings.push({ request: req.describe, status: res.statusCode, why });
    return true;
  };
  // A few requests to each operation first, so none is left out however short the time is.
  for (const op of ops) {
    for (const req of fc.sample(requestFor(op, all, pools), { numRuns: 3, seed: SEED })) await exercise(req);
  }
  const details = await fc.check(fc.asyncProperty(requests, exercise), {
    numRuns: NUM_RUNS,
    seed: SEED,
    interruptAfterTimeLimit: TIME_MS,
    markInterruptAsFailure: false,
  });
  t.comment(
    `seed ${SEED}: ${3 * ops.length} + ${details.numRuns} requests${details.interrupted ? ' (time limit reached)' : ''}`,
  );
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  t.equal(details.failed, false, details.errorInstance ? String(details.errorInstance) : 'the run completed');
  t.ok(details.numRuns >= Math.min(NUM_RUNS, 50), `the property ran (${details.numRuns} requests)`);
  t.same(
    ops.map((op) => op.operationId).filter((id) => !perOperation.has(id)),
    [],
    'every operation was exercised',
  );
  t.same(findings.slice(0, 10), [], `${findings.length} of ${details.numRuns} responses broke the rule`);
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200, 'the server is still ready afterwards');
});
