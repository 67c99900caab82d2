import t from 'tap';
import { LEADER_APPLICATION_NAME, Leader, type LeaderLog, type PeriodicPass } from '../../src/schedules/leader.js';
import { createTestDatabase } from '../helpers/database.js';

const db = await createTestDatabase(t);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await sleep(10);
}

function recordingLog(): LeaderLog & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    info: (o, m) => events.push(`info ${m ?? o}`),
    warn: (o, m) => events.push(`warn ${m ?? o}`),
    error: (o, m) => events.push(`error ${m ?? o}`),
  };
}

/** A pass that records which leader ran it, and when. */
function countingPass(name: string, runs: { by: string; at: number }[], by: string, everyMs?: number) {
  const pass: PeriodicPass<unknown> = {
    name,
    ...(everyMs === undefined ? {} : { everyMs }),
    run: async () => {
      runs.push({ by, at: Date.now() });
    },
  };
  return pass;
}

t.test('exactly one leader across several candidates, and only it runs passes; the next takes over', async (t) => {
  const runs: { by: string; at: number }[] = [];
  const candidates = ['a', 'b', 'c'].map(
    (name) =>
      [
        name,
        new Leader({
          settings: db.ownerSettings,
          intervalMs: 30,
          deps: {},
          passes: [countingPass('count', runs, name)],
        }),
      ] as const,
  );
  for (const [, l] of candidates) l.start();
  t.teardown(() => Promise.all(candidates.map(([, l]) => l.stop())));
  await until(() => runs.length >= 5);
  await sleep(200); // several more rounds of every candidate
  const leaders = candidates.filter(([, l]) => l.isLeader);
  t.equal(leaders.length, 1, 'exactly one leader');
  const leaderName = leaders[0]?.[0];
  t.same([...new Set(runs.map((r) => r.by))], [leaderName], 'only the leader ran the pass');

  await leaders[0]?.[1].stop();
  const before = runs.length;
  await until(() => candidates.some(([, l]) => l.isLeader) && runs.length > before + 2);
  const next = candidates.filter(([, l]) => l.isLeader);
  t.equal(next.length, 1, 'another candidate took over');
  t.not(next[0]?.[0], leaderName);
  t.ok(
    runs.slice(before).every((r) => r.by === next[0]?.[0]),
    'and from then on only it runs the pass',
  );
});

t.test('a leader whose lock session is killed loses leadership, then competes again', async (t) => {
  const log = recordingLog();
  const { events } = log;
  const s = new Leader({
    settings: db.ownerSettings,
    intervalMs: 30,
    deps: {},
    passes: [countingPass('count', [], 'only')],
    log,
  });
  s.start();
  s.start(); // idempotent
  t.teardown(() => s.stop());
  await until(() => s.isLeader);
  t.ok(s.isLeader);
  await db.ownerQuery(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name = $1 AND datname = current_database()`,
    [LEADER_APPLICATION_NAME],
  );
  await until(() => events.some((e) => e.includes('lost its lock session')));
  t.ok(
    events.some((e) => e.includes('lost its lock session')),
    'the loss is noticed and logged',
  );
  await until(() => events.filter((e) => e.includes('is the leader')).length >= 2);
  t.ok(s.isLeader, 'and leadership is taken again on a new session');
});

t.test('a leader that cannot reach the database logs and keeps trying', async (t) => {
  const errors: unknown[] = [];
  const log = { info: () => {}, warn: () => {}, error: (o: unknown) => errors.push(o) };
  const settings = { ...db.ownerSettings, port: 1 };
  const s = new Leader({ settings, intervalMs: 20, deps: {}, passes: [countingPass('count', [], 'x')], log });
  s.start();
  const deadline = Date.now() + 5_000;
  while (errors.length < 2 && Date.now() < deadline) await sleep(10);
  await s.stop();
  t.ok(errors.length >= 2, 'each round fails on its own and the next one tries again');
  t.notOk(s.isLeader);
});

t.test('a pass that throws is logged and stops neither the passes after it nor its own next run', async (t) => {
  const log = recordingLog();
  const runs: { by: string; at: number }[] = [];
  let thrown = 0;
  const failing: PeriodicPass<unknown> = {
    name: 'failing',
    run: async () => {
      thrown++;
      throw new Error('the pass broke');
    },
  };
  const s = new Leader({
    settings: db.ownerSettings,
    intervalMs: 20,
    deps: {},
    passes: [failing, countingPass('after', runs, 'after')],
    log,
  });
  s.start();
  t.teardown(() => s.stop());
  await until(() => runs.length >= 3 && thrown >= 3);
  t.ok(thrown >= 3, `the failing pass ran again each round (${thrown})`);
  t.ok(runs.length >= 3, `the pass after it ran every round too (${runs.length})`);
  t.ok(
    log.events.some((e) => e === 'error a periodic pass failed'),
    'the failure is logged',
  );
  t.ok(s.isLeader, 'and the leader is still the leader');
});

t.test('each pass runs on its own cadence', async (t) => {
  const fast: { by: string; at: number }[] = [];
  const slow: { by: string; at: number }[] = [];
  const s = new Leader({
    settings: db.ownerSettings,
    intervalMs: 20,
    deps: {},
    passes: [countingPass('fast', fast, 'fast'), countingPass('slow', slow, 'slow', 400)],
  });
  s.start();
  t.teardown(() => s.stop());
  await until(() => slow.length >= 2, 5_000);
  t.equal(slow.length, 2, 'the slow pass ran twice');
  t.ok(fast.length >= 6, `the fast pass ran many times meanwhile (${fast.length})`);
  const gap = (slow[1]?.at ?? 0) - (slow[0]?.at ?? 0);
  t.ok(gap >= 390, `the slow pass waited its own interval (${gap} ms)`);
});

t.test('two passes of one name, or a bad interval, are wiring mistakes', async (t) => {
  const pass = countingPass('same', [], 'x');
  const settings = db.ownerSettings;
  t.throws(() => new Leader({ settings, intervalMs: 20, deps: {}, passes: [pass, pass] }), /named 'same'/);
  t.throws(() => new Leader({ settings, intervalMs: 0, deps: {}, passes: [] }), RangeError);
  t.throws(() => new Leader({ settings, intervalMs: 20, deps: {}, passes: [{ ...pass, everyMs: -1 }] }), RangeError);
});
