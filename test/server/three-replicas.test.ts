// N replicas, proven (issue 12, section 4): three real worker processes (`src/server.ts worker`) on one
// metadata store drain a queue with no job run twice and none lost; a kill -9 of one of them (the leader)
// midway loses nothing, its jobs are taken again once their lease has run out, and exactly one process
// runs the periodic passes at any time.
//
// The job kind is a test-only task preloaded into each process (replica-probe.ts): production code has no
// such task and no setting that enables one. Each execution appends "<job> <attempt> <pid>" to a file the
// test reads, so the count of executions per job comes from outside the system under test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import t from 'tap';
import { JOBS_AVAILABLE_CHANNEL } from '../../src/jobs/channels.js';
import { LEADER_LOCK } from '../../src/schedules/leader.js';
import { TEST_JWT_SECRET } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { databaseUrl, type ServerProcess, startServerProcess, waitUntil } from '../helpers/server-process.js';

/**
 * Jobs drained by the three processes in the first phase. Issue 12 asks for 10,000. At the engine's speed
 * when this test was written (one claim per transaction, claims of a tenant serialised on its advisory
 * lock) three processes drained 2,000 jobs at 91 jobs/s at load average 16 and 38 jobs/s at 23, so 10,000
 * would take 2 to 4 minutes alone: over this test's budget of well under 2 minutes. Raise it to 10,000
 * once the batched claim (>10x faster) has landed; nothing else here depends on the count.
 */
const DRAIN_JOBS = 1_000;
/**
 * Jobs of the kill phase. Each sleeps, so that the killed process surely holds some when it dies: with
 * 25 ms it held a single job in two runs out of two (claims, not jobs, take the time), with 250 ms several.
 */
const KILL_JOBS = 400;
const KILL_JOB_SLEEP_MS = 250;
const TENANTS = 10;
const LEASE_SECONDS = 5; // the shortest the config accepts: the killed process's jobs wait this long
const PROBE_KIND = 'test.replica-probe';
const LEADER_KEY = BigInt(LEADER_LOCK);

interface Execution {
  jobId: string;
  attemptId: string;
  pid: number;
}

t.test('three replicas on one metadata store', async (t) => {
  const db = await createTestDatabase(t);
  const dir = mkdtempSync(join(tmpdir(), 'pgsteward-replicas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const executionsFile = join(dir, 'executions.log');
  const passesFile = join(dir, 'passes.log');
  writeFileSync(executionsFile, '');
  writeFileSync(passesFile, '');
  const tenants = Array.from({ length: TENANTS }, (_, i) => `replica-${i}`);
  for (const id of tenants) await db.ownerQuery('INSERT INTO tenants (id, name) VALUES ($1, $1)', [id]);

  // The leader lock, observed from outside: sampled every 100 ms for the whole test.
  const observer = new pg.Client(db.cluster.clientConfig(db.name));
  await observer.connect();
  t.teardown(() => observer.end());
  const holderSamples: { at: number; holders: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const { rows } = await observer.query<{ holders: number }>(
        `SELECT count(*)::int AS holders FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
        [String(LEADER_KEY >> 32n), String(LEADER_KEY & 0xffffffffn)],
      );
      holderSamples.push({ at: Date.now(), holders: rows[0]?.holders ?? -1 });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const stopSampling = async () => {
    sampling = false;
    await sampler;
  };
  t.teardown(stopSampling);

  const probe = pathToFileURL(join(import.meta.dirname, 'replica-probe.ts')).href;
  const processes: ServerProcess[] = [];
  for (let i = 1; i <= 3; i++) {
    processes.push(
      startServerProcess(
        t,
        {
          DATABASE_URL: databaseUrl(db),
          PGSTEWARD_JWT_SECRET: TEST_JWT_SECRET,
          PGSTEWARD_DATA_DIR: join(dir, `replica-${i}`),
          PGSTEWARD_WORKERS: '10',
          PGSTEWARD_TENANT_MAX_RUNNING: '4',
          PGSTEWARD_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
          PGSTEWARD_LEADER_INTERVAL_SECONDS: '1',
          LOG_LEVEL: 'info',
          REPLICA_PROBE_EXECUTIONS: executionsFile,
          REPLICA_PROBE_PASSES: passesFile,
        },
        ['worker'],
        { nodeArgs: ['--import', probe], tsx: true },
      ),
    );
  }
  const spawnedAt = Date.now();
  // Sources load in each child; three at once on a busy 2-core machine take a while.
  for (const [i, p] of processes.entries()) {
    await waitUntil(`replica ${i + 1} to start`, () => /pgsteward worker started/.test(p.output()), 90_000).catch(
      (err) => {
        throw new Error(`${err.message}; it said:\n${p.output()}`);
      },
    );
  }

  t.comment(`three replicas started in ${((Date.now() - spawnedAt) / 1000).toFixed(1)} s`);

  const readExecutions = (): Execution[] =>
    readFileSync(executionsFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [jobId = '', attemptId = '', pid = ''] = line.split(' ');
        return { jobId, attemptId, pid: Number(pid) };
      });

  /** Queue `count` probe jobs round-robin over the tenants, as the owner, and wake the workers. */
  async function enqueue(count: number, sleepMs: number): Promise<Set<string>> {
    const rows = await db.ownerQuery<{ id: string }>(
      `INSERT INTO jobs (tenant_id, kind, payload, max_attempts)
       SELECT ($1::text[])[1 + i % array_length($1::text[], 1)], $2, jsonb_build_object('sleepMs', $3::int), 5
         FROM generate_series(0, $4::int - 1) i
       RETURNING id`,
      [tenants, PROBE_KIND, sleepMs, count],
    );
    await db.ownerQuery('SELECT pg_notify($1, $2)', [JOBS_AVAILABLE_CHANNEL, '']);
    return new Set(rows.map((r) => r.id));
  }

  const finishedCount = async (ids: Set<string>) =>
    (
      await db.ownerQuery<{ n: number }>(
        "SELECT count(*)::int AS n FROM jobs WHERE id = ANY ($1::uuid[]) AND status IN ('succeeded', 'failed', 'cancelled')",
        [[...ids]],
      )
    )[0]?.n ?? 0;

  const jobRows = (ids: Set<string>) =>
    db.ownerQuery<{ id: string; status: string; attempts: number; attempt_id: string; started_at: Date }>(
      'SELECT id, status, attempts, attempt_id, started_at FROM jobs WHERE id = ANY ($1::uuid[])',
      [[...ids]],
    );

  const byJob = (executions: Execution[], ids: Set<string>) => {
    const map = new Map<string, Execution[]>();
    for (const e of executions) if (ids.has(e.jobId)) map.set(e.jobId, [...(map.get(e.jobId) ?? []), e]);
    return map;
  };

  await t.test(`${DRAIN_JOBS} jobs drained by three processes: each ran exactly once, none lost`, async (t) => {
    const started = Date.now();
    const ids = await enqueue(DRAIN_JOBS, 0);
    await waitUntil('the queue to drain', async () => (await finishedCount(ids)) === ids.size, 100_000);
    const seconds = (Date.now() - started) / 1000;
    t.comment(`drained ${ids.size} jobs in ${seconds.toFixed(1)} s (${(ids.size / seconds).toFixed(0)} jobs/s)`);

    const rows = await jobRows(ids);
    t.equal(rows.length, DRAIN_JOBS, 'every job is there');
    t.same(
      rows.filter((r) => r.status !== 'succeeded' || r.attempts !== 1),
      [],
      'every job succeeded at its first attempt',
    );
    const executions = byJob(readExecutions(), ids);
    t.equal(executions.size, DRAIN_JOBS, 'every job was executed: 0 lost');
    const twice = [...executions.values()].filter((e) => e.length !== 1);
    t.same(twice, [], '0 double executions');
    const mismatched = rows.filter((r) => executions.get(r.id)?.[0]?.attemptId !== r.attempt_id);
    t.same(mismatched, [], 'the attempt that ran each job is the one recorded as its last');
    const pids = new Set([...executions.values()].flatMap((e) => e.map((x) => x.pid)));
    t.same([...pids].sort(), processes.map((p) => p.pid).sort(), 'all three processes took a share of the jobs');
  });

  await t.test('kill -9 of the leader midway: 0 lost, its jobs reclaimed after the lease', async (t) => {
    const leaderOf = () => processes.filter((p) => /this process is the leader/.test(p.output()));
    t.equal(leaderOf().length, 1, 'one process has said it leads');
    const victim = leaderOf()[0] as ServerProcess;
    const survivors = processes.filter((p) => p !== victim);
    const holding = async () =>
      (
        await db.ownerQuery<{ n: number }>(
          "SELECT count(*)::int AS n FROM jobs WHERE status = 'running' AND locked_by LIKE $1",
          [`%:${victim.pid}:%`],
        )
      )[0]?.n ?? 0;

    const ids = await enqueue(KILL_JOBS, KILL_JOB_SLEEP_MS);
    await waitUntil(
      'a third of the jobs to finish while the victim holds some',
      async () => (await finishedCount(ids)) >= KILL_JOBS / 3 && (await holding()) > 0,
      60_000,
    );
    victim.child.kill('SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    // What the dead process held: running under its worker id, with the lease it last renewed.
    const inFlight = await db.ownerQuery<{ id: string; locked_until: Date }>(
      "SELECT id, locked_until FROM jobs WHERE status = 'running' AND locked_by LIKE $1",
      [`%:${victim.pid}:%`],
    );
    t.ok(inFlight.length > 0, `the killed process held ${inFlight.length} running jobs`);

    await waitUntil(
      'the rest to drain, reclaimed jobs included',
      async () => (await finishedCount(ids)) === ids.size,
      60_000,
    );
    const rows = await jobRows(ids);
    const rowById = new Map(rows.map((r) => [r.id, r]));
    t.same(
      rows.filter((r) => r.status !== 'succeeded'),
      [],
      'every job succeeded: 0 lost',
    );
    for (const held of inFlight) {
      const row = rowById.get(held.id);
      t.ok(
        row && row.attempts >= 2 && row.started_at.getTime() >= held.locked_until.getTime(),
        `job ${held.id} was taken again only after its lease ran out`,
      );
    }

    const executions = byJob(readExecutions(), ids);
    t.equal(executions.size, KILL_JOBS, 'every job was executed');
    const heldIds = new Set(inFlight.map((r) => r.id));
    const problems: string[] = [];
    for (const [jobId, runs] of executions) {
      const final = rowById.get(jobId)?.attempt_id;
      if (runs.filter((r) => r.attemptId === final).length !== 1)
        problems.push(`${jobId}: its last attempt did not run once`);
      if (runs.length === 1) continue;
      // More than one run: allowed only as a dead process's run, then the survivor's that finished the job.
      const dead = runs.filter((r) => r.pid === victim.pid && r.attemptId !== final);
      if (!heldIds.has(jobId) || runs.length !== 2 || dead.length !== 1) {
        problems.push(`${jobId}: ran ${runs.length} times (${runs.map((r) => r.pid).join(', ')})`);
      }
    }
    t.same(problems, [], '0 double executions: a job ran twice only when the first run died with its process');
    t.equal(
      new Set(readExecutions().map((e) => e.attemptId)).size,
      readExecutions().length,
      'no attempt executed twice',
    );
    t.ok(
      survivors.every((p) => p.child.exitCode === null),
      'the survivors are still running',
    );

    // Exactly one leader at any time: the lock never had two holders, and the periodic passes ran in one
    // process at a time, handing over once, from the killed leader to one survivor.
    await waitUntil('a survivor to take over the periodic passes', () => {
      const after = readFileSync(passesFile, 'utf8').split('\n').filter(Boolean);
      return after.some((line) => Number(line.split(' ')[0]) > killedAt);
    });
    await stopSampling();
    t.ok(
      holderSamples.every((s) => s.holders <= 1),
      `the leader lock never had two holders (${holderSamples.length} samples)`,
    );
    const firstHeld = holderSamples.findIndex((s) => s.holders === 1);
    const leaderless = holderSamples
      .slice(firstHeld)
      .filter((s) => s.holders === 0 && (s.at < killedAt - 200 || s.at > killedAt + 5_000));
    t.same(leaderless, [], 'and had one from the first election on, but for a moment after the kill');
    const runs = readFileSync(passesFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ').map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0]);
    const handovers = runs.filter((r, i) => i > 0 && r[1] !== runs[i - 1]?.[1]).length;
    t.equal(handovers, 1, 'the passes changed hands once');
    t.equal(runs[0]?.[1], victim.pid, 'first the killed leader ran them');
    t.ok(
      survivors.some((p) => p.pid === runs.at(-1)?.[1]),
      'then one survivor',
    );
    t.equal(
      survivors.filter((p) => /this process is the leader/.test(p.output())).length,
      1,
      'one survivor says it leads',
    );
    t.comment(`reclaimed ${inFlight.length} jobs; ${(Date.now() - killedAt) / 1000} s from the kill to the end`);
  });
});
