import t from 'tap';
import { bearer, buildTestApp } from '../helpers/app.js';

const { app, db, token, seedTenants } = await buildTestApp(t);
await seedTenants('acme', 'globex');
const acme = token('acme', ['targets:read', 'backups:read', 'jobs:read']);
const gql = (query: string, variables: object = {}, tok = acme) =>
  app.inject({ method: 'POST', url: '/graphql', headers: bearer(tok), payload: { query, variables } });

/** Targets with `backups` backups each, written as the owner: the query shape is under test, not the dump. */
async function seedTargets(tenant: string, prefix: string, count: number, backups: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const [row] = await db.ownerQuery<{ id: string }>(
      `INSERT INTO targets (tenant_id, name, secret_ref) VALUES ($1, $2, $3) RETURNING id`,
      [tenant, `${prefix}-${i}`, `file:${tenant}/${prefix}-${i}`],
    );
    ids.push((row as { id: string }).id);
    await db.ownerQuery(
      `INSERT INTO backups (tenant_id, target_id, format, options, status, created_at)
       SELECT $1, $2, 'custom', '{"format":"custom"}', 'failed', now() - n * interval '1 minute'
         FROM generate_series(1, $3) AS n`,
      [tenant, (row as { id: string }).id, backups],
    );
  }
  return ids;
}

/** How many transactions (pooled-connection checkouts) a request opens. */
async function checkoutsOf(run: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const count = () => {
    n++;
  };
  db.appPool.on('acquire', count);
  try {
    await run();
  } finally {
    db.appPool.off('acquire', count);
  }
  return n;
}

t.test("the issue's nested query is refused before it runs, naming its cost and the limit", async (t) => {
  const query =
    '{ backups(first:200){items{target{backups(first:200){items{target{backups(first:200){items{id}}}}}}}} }';
  let res!: Awaited<ReturnType<typeof gql>>;
  const checkouts = await checkoutsOf(async () => {
    res = await gql(query);
  });
  t.equal(res.statusCode, 400);
  const error = res.json().errors[0];
  t.equal(error.extensions.code, 'PGS_GRAPHQL_QUERY_TOO_COSTLY');
  t.match(error.message, /up to 8120601 objects; the limit is 10000 \(PGSTEWARD_GRAPHQL_MAX_COST\)/);
  t.same([error.extensions.cost, error.extensions.maxCost], [8120601, 10000]);
  t.ok(checkouts <= 1, `no resolver ran (${checkouts} checkouts: authentication only)`);
  // Within the page cap the same shape is still far over the limit.
  const capped = await gql(query.replaceAll('200', '100'));
  t.equal(capped.json().errors[0].extensions.code, 'PGS_GRAPHQL_QUERY_TOO_COSTLY');
  t.match(capped.json().errors[0].message, /up to 1030301 objects/);
});

t.test('fragments and variables are costed as they will execute', async (t) => {
  const res = await gql(
    `query($n: Int) { ...deep }
     fragment deep on Query { targets(first: $n) { items { backups(first: $n) { items { id target { name } } } } } }`,
    { n: 100 },
  );
  t.equal(res.json().errors[0].extensions.code, 'PGS_GRAPHQL_QUERY_TOO_COSTLY');
  t.match(res.json().errors[0].message, /up to 20201 objects/);
});

t.test('a dashboard-sized query passes the default limit', async (t) => {
  // 50 targets with their 20 newest backups and each backup's job: 1 + 50 × (1 + 1 + 1 + (1 + 20 × 2)) = 2201.
  const res = await gql(`{ targets { items { id name drillPolicy { schedule } lastVerifiedBackup { id }
      backups { items { id status sizeBytes job { status } } nextCursor } } nextCursor } }`);
  t.equal(res.statusCode, 200, res.body);
  t.notOk(res.json().errors);
});

t.test('unpaged lists count at their cap, and reads of tenant servers at their weight', async (t) => {
  // healthReports has no first: it counts as 100 reports, so 100 targets x 100 reports is refused.
  const reports = await gql('{ targets(first: 100) { items { healthReports { id } } } }');
  t.equal(reports.json().errors[0].extensions.code, 'PGS_GRAPHQL_QUERY_TOO_COSTLY');
  t.match(reports.json().errors[0].message, /up to 10201 objects/);
  // A role set's drift opens a session on the target's server: 20 per set, under every target.
  const drift = await gql('{ targets(first: 10) { items { roleSets { name drift { missingRoles } } } } }');
  t.equal(drift.json().errors[0].extensions.code, 'PGS_GRAPHQL_QUERY_TOO_COSTLY');
  t.match(drift.json().errors[0].message, /up to 22021 objects/);
});

t.test('lists are capped at 100: a larger page is a 400, not a silent clamp', async (t) => {
  const res = await gql('{ backups(first: 101) { items { id } } }');
  t.equal(res.statusCode, 400);
  t.equal(res.json().errors[0].extensions.code, 'PGS_GRAPHQL_LIST_TOO_LONG');
  t.match(res.json().errors[0].message, /Query\.backups\(first: 101\): first must be a whole number from 1 to 100/);
  const viaVariable = await gql('query($n: Int) { targets(first: $n) { items { id } } }', { n: 500 });
  t.equal(viaVariable.json().errors[0].extensions.code, 'PGS_GRAPHQL_LIST_TOO_LONG');
  const zero = await gql('{ targets { items { backups(first: 0) { items { id } } } } }');
  t.equal(zero.json().errors[0].extensions.code, 'PGS_GRAPHQL_LIST_TOO_LONG');
  t.equal((await gql('{ backups(first: 100) { items { id } } }')).statusCode, 200);
});

t.test('PGSTEWARD_GRAPHQL_MAX_COST sets the limit', async (t) => {
  const strict = await buildTestApp(t, { PGSTEWARD_GRAPHQL_MAX_COST: '100' });
  await strict.seedTenants('acme');
  const res = await strict.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(strict.token('acme', ['backups:read'])),
    payload: { query: '{ backups(first: 100) { items { id target { name } } } }' },
  });
  t.equal(res.json().errors[0].extensions.code, 'PGS_GRAPHQL_QUERY_TOO_COSTLY');
  t.match(res.json().errors[0].message, /up to 201 objects; the limit is 100/);
});

t.test('Target.backups is batched: one query per level, whatever the number of targets', async (t) => {
  const ids = await seedTargets('acme', 'batch', 6, 3);
  await seedTargets('globex', 'other', 2, 2);
  const query = `query($n: Int) { targets(first: $n) { items { id backups(first: 2) { items { id targetId target { id } } nextCursor } } } }`;
  let two!: Awaited<ReturnType<typeof gql>>;
  let six!: Awaited<ReturnType<typeof gql>>;
  const forTwo = await checkoutsOf(async () => {
    two = await gql(query, { n: 2 });
  });
  const forSix = await checkoutsOf(async () => {
    six = await gql(query, { n: 6 });
  });
  // Authentication may or may not look the tenant up (it caches), so 6 targets may cost one fewer, never more.
  t.ok(forSix <= forTwo, `${forTwo} transactions for 2 targets, ${forSix} for 6`);
  // (authentication,) targets, their backups, the backups' targets
  t.ok(forSix <= 4, `${forSix} transactions`);
  type Item = { id: string; backups: { items: { targetId: string; target: { id: string } }[]; nextCursor: string } };
  const items = six.json().data.targets.items as Item[];
  t.same(
    items.map((i) => i.id),
    ids,
  );
  for (const item of items) {
    t.equal(item.backups.items.length, 2);
    t.ok(item.backups.items.every((b) => b.targetId === item.id && b.target.id === item.id));
    t.type(item.backups.nextCursor, 'string');
  }
  t.equal(two.json().data.targets.items.length, 2);
  // The cursor pages on within a target, as the unbatched field did.
  const first = items[0] as Item;
  const next = await gql(
    'query($id: ID!, $after: Cursor) { target(id: $id) { backups(first: 2, after: $after) { items { id } nextCursor } } }',
    { id: first.id, after: first.backups.nextCursor },
  );
  t.equal(next.json().data.target.backups.items.length, 1);
  t.equal(next.json().data.target.backups.nextCursor, null);
});

t.test("another tenant's backups never appear under a target", async (t) => {
  const globex = token('globex', ['targets:read', 'backups:read']);
  const res = await gql('{ targets { items { name backups { items { targetId } } } } }', {}, globex);
  const items = res.json().data.targets.items as { name: string; backups: { items: unknown[] } }[];
  t.same(
    items.map((i) => [i.name, i.backups.items.length]),
    [
      ['other-0', 2],
      ['other-1', 2],
    ],
  );
});
