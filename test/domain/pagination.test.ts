import fc from 'fast-check';
import t from 'tap';
import { byCreatedAtAndId, type Keyset, listPage, type PageRequest } from '../../src/domain/pagination.js';

interface Row {
  id: string;
  created_at: Date;
}

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
// Two rows share each millisecond, so the id has to break ties.
const rows: Row[] = Array.from({ length: 7 }, (_, i) => ({
  id: uuid(i),
  created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, Math.floor(i / 2))),
}));

/** The query's part, in memory: ascending (created_at, id) after the position, limit+1 rows. */
const fetchAfter =
  (all: Row[]) =>
  async (after: { createdAt: string; id: string } | undefined, limit: number): Promise<Row[]> =>
    all
      .filter((r) => {
        if (after === undefined) return true;
        const at = r.created_at.toISOString();
        return at > after.createdAt || (at === after.createdAt && r.id > after.id);
      })
      .slice(0, limit + 1);

const cursorOf = (position: unknown) => Buffer.from(JSON.stringify({ v: 1, p: position })).toString('base64url');

async function walk(all: Row[], limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let req: PageRequest = { limit };
  for (let pages = 1; ; pages++) {
    const page = await listPage(req, byCreatedAtAndId, fetchAfter(all), (r) => r.id);
    ids.push(...page.items);
    if (page.nextCursor === null) return { ids, pages };
    req = { limit, cursor: page.nextCursor };
  }
}

t.test('pages of a list follow each other without a row lost or repeated; the last has no cursor', async (t) => {
  t.same(await walk(rows, 2), { ids: rows.map((r) => r.id), pages: 4 });
  t.same(await walk(rows, 7), { ids: rows.map((r) => r.id), pages: 1 }, 'an exact fit needs no second page');
  t.same(await walk([], 3), { ids: [], pages: 1 });
});

t.test('any list size and page size: walking the pages yields the list in order', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 200 }), async (n, limit) => {
      const all = Array.from({ length: n }, (_, i) => ({
        id: uuid(i),
        created_at: new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 3)),
      }));
      const { ids, pages } = await walk(all, limit);
      return (
        JSON.stringify(ids) === JSON.stringify(all.map((r) => r.id)) && pages === Math.max(1, Math.ceil(n / limit))
      );
    }),
  );
});

t.test('the page size is 50 by default and 1 to 200', async (t) => {
  let asked = 0;
  const fetch = async (_after: unknown, limit: number) => {
    asked = limit;
    return [] as Row[];
  };
  await listPage({}, byCreatedAtAndId, fetch, (r) => r);
  t.equal(asked, 50);
  await listPage({ limit: 200 }, byCreatedAtAndId, fetch, (r) => r);
  t.equal(asked, 200);
  for (const limit of [0, 201, 1.5, -1, Number.NaN]) {
    await t.rejects(
      listPage({ limit }, byCreatedAtAndId, fetch, (r) => r),
      { code: 'PGS_VALIDATION' },
      String(limit),
    );
  }
});

t.test('a cursor this list did not write answers PGS_INVALID_CURSOR before anything is fetched', async (t) => {
  const fetch = async () => {
    throw new Error('fetched');
  };
  const good = `${new Date(0).toISOString()}|${uuid(1)}`;
  for (const cursor of [
    'not base64 json',
    Buffer.from('{"v":2,"p":"x"}').toString('base64url'),
    cursorOf(42),
    cursorOf('2026-01-01T00:00:00.000Z'),
    cursorOf(`not a date|${uuid(1)}`),
    cursorOf('2026-01-01T00:00:00.000Z|not-a-uuid'),
    cursorOf(`${good}|extra`),
  ]) {
    await t.rejects(
      listPage({ cursor }, byCreatedAtAndId, fetch, (r) => r),
      { code: 'PGS_INVALID_CURSOR' },
      cursor,
    );
  }
  const digitsOnly: Keyset<{ id: string }, string> = {
    positionOf: (r) => r.id,
    parse: (p) => (/^\d+$/.test(p) ? p : undefined),
  };
  await t.rejects(
    listPage({ cursor: cursorOf('12a') }, digitsOnly, fetch, (r) => r),
    { code: 'PGS_INVALID_CURSOR' },
  );
  const page = await listPage(
    { cursor: cursorOf('12'), limit: 1 },
    digitsOnly,
    async (after) => [{ id: `${after}` }],
    (r) => r,
  );
  t.same(page, { items: [{ id: '12' }], nextCursor: null });
});
