import fc from 'fast-check';
import t from 'tap';
import { isUnstorableText } from '../../src/api/unstorable-text.js';
import { toJobFailure } from '../../src/domain/job-failures.js';
import { boundText, MAX_STORED_MESSAGE } from '../../src/domain/stored-text.js';
import { TaskFailures } from '../../src/task-failures.js';

t.test('bounded text is a prefix within the bound, cut on a code point, marked when cut', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer({ min: 2, max: 300 }), (text, max) => {
      const out = boundText(text, max);
      if (text.length <= max) return out === text;
      return (
        out.length <= max &&
        out.endsWith('…') &&
        text.startsWith(out.slice(0, -1)) &&
        (isUnstorableText(text) || !isUnstorableText(out))
      );
    }),
  );
  // A pair straddling the cut is dropped whole rather than split into a lone high surrogate.
  const cut = boundText(`ab${'😀'.repeat(5)}`, 4);
  t.equal(cut, 'ab…');
  t.notOk(isUnstorableText(cut));
});

t.test("a tool's megabyte of stderr is stored as at most 2000 characters", async (t) => {
  const failure = toJobFailure(TaskFailures.dumpFailed(`pg_dump: error: ${'x'.repeat(1_000_000)}`));
  t.equal(failure.code, 'PGS_DUMP_FAILED');
  t.equal(failure.message.length, MAX_STORED_MESSAGE);
  t.match(failure.message, /^pg_dump: error: x+…$/);
});
