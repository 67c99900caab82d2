import pg from 'pg';
import t from 'tap';
import { asJobFailure, asTaskFailure, failTask, toJobFailure } from '../../src/domain/job-failures.js';
import { Errors } from '../../src/errors.js';
import { JobAbortedError, JobFailure, StaleAttemptError } from '../../src/jobs/types.js';
import { PgToolError } from '../../src/pgtools/run-tool.js';
import { TaskFailure, TaskFailures } from '../../src/task-failures.js';

const aborted = () => {
  const c = new AbortController();
  c.abort();
  return c.signal;
};
const serverError = (code: string) =>
  Object.assign(new pg.DatabaseError('terminating connection', 0, 'error'), { code });
const toolError = (message: string) => new PgToolError('pg_dump', 1, null, '', message);

t.test('every catalogued task failure has a PGS_ code, a message and says whether it is retried', async (t) => {
  const samples: TaskFailure[] = [
    TaskFailures.cancelled('backup'),
    TaskFailures.artifactCorrupt('sha256'),
    TaskFailures.rolesMissing(['alice', 'bob']),
    TaskFailures.databaseInUse('app', 1),
    TaskFailures.restoreInterrupted('app', 'app_old'),
  ];
  for (const f of samples) {
    t.ok(f instanceof TaskFailure);
    t.match(f.code, /^PGS_[A-Z_]+$/);
    t.ok(f.message.length > 0);
    t.equal(typeof f.retryable, 'boolean');
  }
  t.equal(TaskFailures.databaseInUse('app', 1).message.includes('1 open connection;'), true);
  t.equal(TaskFailures.databaseInUse('app', 2).message.includes('2 open connections;'), true);
  t.equal(
    TaskFailures.rolesMissing(['alice', 'bob']).message,
    'The dump refers to roles the target lacks: alice, bob. Restore with includeGlobals, or with noOwner and noPrivileges.',
  );
});

t.test('a catalogue error reaches the engine with its own code and message', async (t) => {
  const fromTask = toJobFailure(TaskFailures.databaseExists('app'));
  t.ok(fromTask instanceof JobFailure);
  t.match(fromTask, {
    code: 'PGS_DATABASE_EXISTS',
    message: "Database 'app' already exists on the target.",
    retryable: false,
  });
  const retryable = toJobFailure(new TaskFailure('PGS_SOMETHING', 'try again', true));
  t.equal(retryable.retryable, true);
  t.match(asJobFailure(Errors.targetNotFound('x'), 'backup'), {
    code: 'PGS_TARGET_NOT_FOUND',
    message: "Target 'x' was not found.",
    retryable: false,
  });
  const engines = new JobFailure('PGS_OTHER', 'as it was');
  t.equal(asJobFailure(engines, 'restore'), engines);
});

t.test('after the signal fired, any error is PGS_CANCELLED for that work', async (t) => {
  t.match(asJobFailure(new Error('EPIPE'), 'backup', aborted()), {
    code: 'PGS_CANCELLED',
    message: 'The backup was stopped before it finished.',
  });
  t.match(asTaskFailure(toolError('x'), 'restore', aborted()), {
    code: 'PGS_CANCELLED',
    message: 'The restore was stopped before it finished.',
  });
});

t.test('a failed tool run is the work that ran it', async (t) => {
  t.match(asJobFailure(toolError('pg_dump exited with 1'), 'backup'), {
    code: 'PGS_DUMP_FAILED',
    message: 'pg_dump exited with 1',
  });
  const long = toolError('x'.repeat(3000));
  t.match(asJobFailure(long, 'restore'), { code: 'PGS_RESTORE_FAILED', message: 'x'.repeat(1000) });
  t.equal(asJobFailure(toolError('x'), 'drill'), undefined, 'a drill runs no tool outside its restore');
});

t.test("a server's SQLSTATE is named in the work's own code", async (t) => {
  t.match(asJobFailure(serverError('57P01'), 'backup'), {
    code: 'PGS_DUMP_FAILED',
    message: 'The database ended the backup session (SQLSTATE 57P01).',
  });
  t.match(asJobFailure(serverError('42501'), 'restore'), {
    code: 'PGS_RESTORE_FAILED',
    message: 'The target refused the restore (SQLSTATE 42501).',
  });
  t.match(asJobFailure(serverError('53100'), 'drill'), {
    code: 'PGS_DRILL_FAILED',
    message: "The drill's session ended with SQLSTATE 53100.",
  });
});

t.test('a storage error fails a backup with PGS_STORAGE_FAILED; elsewhere it is our bug', async (t) => {
  const sdk = Object.assign(new Error('The specified bucket does not exist'), {
    name: 'NoSuchBucket',
    $metadata: { httpStatusCode: 404 },
  });
  t.match(asJobFailure(sdk, 'backup'), {
    code: 'PGS_STORAGE_FAILED',
    message: 'Writing the backup to storage failed (NoSuchBucket).',
  });
  const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
  t.match(asJobFailure(epipe, 'backup'), { code: 'PGS_STORAGE_FAILED' });
  t.equal(asJobFailure(epipe, 'restore'), undefined, 'EPIPE is no SQLSTATE');
  t.equal(asJobFailure(sdk, 'drill'), undefined);
});

t.test('anything else is left as it is: the worker records PGS_INTERNAL and logs it', async (t) => {
  const bug = new TypeError('undefined is not a function');
  t.equal(asTaskFailure(bug, 'restore'), bug);
  t.equal(asJobFailure(bug, 'backup'), undefined);
  t.equal(asJobFailure(undefined, 'drill'), undefined);
});

t.test("failTask records the failure on the task's own record, then throws it to the engine", async (t) => {
  const recorded: { code: string; message: string }[] = [];
  const record = {
    record: async (error: { code: string; message: string }) => recorded.push(error),
    release: async () => {
      throw new Error('not a release');
    },
  };
  const live = new AbortController().signal;
  await t.rejects(failTask(TaskFailures.noGlobals(), 'restore', live, record), {
    constructor: JobFailure,
    code: 'PGS_NO_GLOBALS',
  });
  t.same(recorded, [{ code: 'PGS_NO_GLOBALS', message: 'The backup was taken without its globals file.' }]);
  // Cancelled: recorded as such, and the engine gets the original error.
  const stop = new Error('aborted');
  await t.rejects(failTask(stop, 'backup', aborted(), record), stop);
  t.same(recorded[1], { code: 'PGS_CANCELLED', message: 'The backup was stopped before it finished.' });
  // Our bug: rethrown untouched, recorded nowhere.
  const bug = new TypeError('x is undefined');
  await t.rejects(failTask(bug, 'backup', live, record), bug);
  t.equal(recorded.length, 2);
});

t.test('failTask hands the record back after a shutdown or a lost lease, and records no failure', async (t) => {
  for (const cause of ['shutdown', 'lease-lost'] as const) {
    const recorded: unknown[] = [];
    let released = 0;
    const end = {
      record: async (error: unknown) => recorded.push(error),
      release: async () => {
        released++;
      },
    };
    const controller = new AbortController();
    controller.abort(new JobAbortedError(cause));
    const stopped = new Error('pg_dump was stopped');
    await t.rejects(failTask(stopped, 'backup', controller.signal, end), stopped, `${cause}: the original error`);
    t.equal(released, 1, `${cause}: released`);
    t.same(recorded, [], `${cause}: no failure recorded`);
  }
  // A stale attempt writes nothing at all: another attempt owns the record.
  const stale = new StaleAttemptError('j', 'a');
  const never = {
    record: async () => t.fail('recorded'),
    release: async () => t.fail('released'),
  };
  await t.rejects(failTask(stale, 'restore', new AbortController().signal, never), stale);
});
