import fc from 'fast-check';
import {
  buildSchema,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
} from 'graphql';
import t from 'tap';
import { loadSchema } from '../../src/graphql/plugin.js';
import { bearer } from '../helpers/app.js';
import { fuzzApp, fuzzBudget } from './fuzz-app.js';
import { malformedValue, ODD_CHARACTERS, oddString } from './malformed-values.js';

/**
 * Every GraphQL mutation, driven with malformed variables and inline arguments: the answer is never a
 * 5xx, and every error carries a PGS_ code. Mutations come from schema/*.graphql, so a new one is
 * covered without a line here. Bounded by count and time; FUZZ_SEED replays a run.
 */
const { numRuns: NUM_RUNS, timeMs: TIME_MS, seed: SEED } = fuzzBudget({ runs: 600, timeMs: 25_000 });
const { app, all, targetId, targetStatus } = await fuzzApp(t);

const schema = buildSchema(loadSchema());
const mutations = Object.values(schema.getMutationType()?.getFields() ?? {});

/** Plausible text for a few argument names, so some requests get past validation into the services. */
const plausible: Record<string, fc.Arbitrary<unknown>> = {
  targetId: fc.oneof(fc.constant(targetId), fc.uuid()),
  backupId: fc.uuid(),
  schedule: fc.constantFrom('@daily', '0 3 * * *', '*/5 * * * *'),
  timezone: fc.constantFrom('UTC', 'Europe/Berlin'),
  database: fc.constantFrom('restored', 'postgres'),
  idempotencyKey: fc.string({ minLength: 1, maxLength: 20 }),
};

function valueFor(type: GraphQLInputType, name: string, depth = 0): fc.Arbitrary<unknown> {
  const broken = malformedValue;
  if (isNonNullType(type)) return valueFor(type.ofType, name, depth);
  if (isListType(type)) {
    return fc.oneof(fc.array(valueFor(type.ofType, name, depth + 1), { maxLength: 3 }), broken);
  }
  const named = getNamedType(type);
  let valid: fc.Arbitrary<unknown>;
  if (plausible[name]) valid = plausible[name];
  else if (isEnumType(named)) valid = fc.constantFrom(...named.getValues().map((v) => v.name));
  else if (isInputObjectType(named)) {
    const fields = Object.values(named.getFields());
    valid =
      depth > 3
        ? fc.constant({})
        : fc.record(Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, f.name, depth + 1)])), {
            requiredKeys: fields.filter((f) => isNonNullType(f.type)).map((f) => f.name),
          });
    valid = fc.oneof(
      valid,
      fc.tuple(valid, oddString, broken).map(([v, k, b]) => ({ ...(v as object), [k]: b })),
    );
  } else if (named.name === 'Int') valid = fc.integer({ min: -5, max: 20 });
  else if (named.name === 'Boolean') valid = fc.boolean();
  else valid = fc.string({ maxLength: 20 });
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: broken });
}

/** A string literal for inline arguments: JSON's escapes are GraphQL's (\u0000 included). */
const literal = fc.oneof(oddString, fc.constantFrom(...ODD_CHARACTERS)).map((s) => JSON.stringify(s));

const perMutation = mutations.map((field) => {
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  const viaVariables = fc
    .tuple(...field.args.map((a) => fc.option(valueFor(a.type, a.name), { nil: undefined, freq: 8 })))
    .map((values) => {
      const declared = field.args.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
      const passed = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const variables = Object.fromEntries(
        field.args.map((a, i) => [a.name, values[i]]).filter(([, v]) => v !== undefined),
      );
      return {
        query: `mutation(${declared}) { ${field.name}(${passed})${selection} }`,
        variables,
      };
    });
  const stringArgs = field.args.filter((a) => ['String', 'ID'].includes(getNamedType(a.type).name));
  const inline = fc.tuple(...stringArgs.map(() => literal)).map((lits) => ({
    query: `mutation { ${field.name}(${stringArgs.map((a, i) => `${a.name}: ${lits[i]}`).join(', ')})${selection} }`,
    variables: {},
  }));
  return stringArgs.length > 0
    ? fc.oneof({ weight: 3, arbitrary: viaVariables }, { weight: 1, arbitrary: inline })
    : viaVariables;
});
const requests = fc.oneof(...perMutation);

t.test('malformed GraphQL mutation input never gets a 5xx, and every error has a PGS_ code', async (t) => {
  t.equal(targetStatus, 201, 'the seeded target exists');
  t.ok(mutations.length >= 5, `${mutations.length} mutations`);
  const findings: { request: string; why: string }[] = [];
  const codes = new Map<string, number>();
  const exercise = async (payload: { query: string; variables: object }) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(all), payload });
    const shown = JSON.stringify(payload).slice(0, 300);
    if (res.statusCode >= 500) {
      findings.push({ request: shown, why: `answered ${res.statusCode}: ${res.body.slice(0, 300)}` });
      return true;
    }
    let body: { errors?: { extensions?: { code?: unknown } }[] };
    try {
      body = JSON.parse(res.body);
    } catch {
      findings.push({ request: shown, why: `not JSON: ${res.body.slice(0, 200)}` });
      return true;
    }
    for (const e of body.errors ?? []) {
      const code = e.extensions?.code;
      codes.set(String(code), (codes.get(String(code)) ?? 0) + 1);
      if (typeof code !== 'string' || !code.startsWith('PGS_'))
        findings.push({ request: shown, why: `error without a code: ${JSON.stringify(e)}` });
      else if (code === 'PGS_INTERNAL') findings.push({ request: shown, why: JSON.stringify(e) });
    }
    return true;
  };
  // A few requests to each mutation first, so none is left out however short the time is.
  for (const arb of perMutation)
    for (const payload of fc.sample(arb, { numRuns: 3, seed: SEED })) await exercise(payload);
  const details = await fc.check(fc.asyncProperty(requests, exercise), {
    numRuns: NUM_RUNS,
    seed: SEED,
    interruptAfterTimeLimit: TIME_MS,
    markInterruptAsFailure: false,
  });
  t.comment(
    `seed ${SEED}: ${3 * mutations.length} + ${details.numRuns} requests${details.interrupted ? ' (time limit reached)' : ''}`,
  );
  t.comment(`error codes: ${JSON.stringify(Object.fromEntries(codes))}`);
  t.equal(details.failed, false, details.errorInstance ? String(details.errorInstance) : 'the run completed');
  t.ok(details.numRuns >= Math.min(NUM_RUNS, 30), `the property ran (${details.numRuns} requests)`);
  t.same(findings.slice(0, 10), [], `${findings.length} of ${details.numRuns} answers broke the rule`);
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200, 'the server is still ready afterwards');
});
