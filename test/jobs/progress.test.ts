import t from 'tap';
import { ProgressReporter } from '../../src/jobs/progress.js';
import { StaleAttemptError } from '../../src/jobs/types.js';
import { sleep } from './job-fixtures.js';

t.test('reports within the interval are coalesced; the latest value wins and flush writes it', async (t) => {
  const writes: string[] = [];
  const reporter = new ProgressReporter(
    async (json) => {
      writes.push(json);
    },
    () => {},
    100,
  );
  await reporter.report({ n: 1 });
  for (let n = 2; n <= 50; n++) await reporter.report({ n });
  t.same(writes, ['{"n":1}'], 'the first report is written at once, the rest wait for the interval');
  await sleep(150);
  t.same(writes, ['{"n":1}', '{"n":50}'], 'one interval later, only the latest value is written');
  await reporter.report({ n: 51 });
  await reporter.flush();
  t.same(writes.at(-1), '{"n":51}', 'flush writes what is pending without waiting for the interval');
  reporter.close();
  await reporter.report({ n: 52 });
  await sleep(150);
  t.same(writes.at(-1), '{"n":51}', 'reports after close are ignored');
});

t.test('a fenced-off write makes every later report throw StaleAttemptError', async (t) => {
  let calls = 0;
  const reporter = new ProgressReporter(
    async () => {
      calls++;
      throw new StaleAttemptError('job', 'attempt');
    },
    () => {},
    10,
  );
  await t.rejects(reporter.report({ n: 1 }), StaleAttemptError);
  await t.rejects(reporter.report({ n: 2 }), StaleAttemptError);
  await t.rejects(reporter.flush(), StaleAttemptError);
  t.equal(calls, 1, 'no write is attempted once the attempt is known to be stale');
});

t.test('other write errors are reported and dropped: progress is advisory', async (t) => {
  const errors: unknown[] = [];
  const reporter = new ProgressReporter(
    async () => {
      throw new Error('connection reset');
    },
    (err) => errors.push(err),
    10,
  );
  await reporter.report({ n: 1 });
  await sleep(20);
  await reporter.report({ n: 2 });
  t.equal(errors.length, 2);
  await reporter.flush();
});
