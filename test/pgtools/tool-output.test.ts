import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { runPgTool } from '../../src/pgtools/run-tool.js';
import { openToolOutput, TOOL_OUTPUT_SLABS, type ToolOutput } from '../../src/pgtools/tool-output.js';

const node = process.execPath;
const COPY_TO_STDOUT = "require('node:fs').createReadStream(process.argv[1]).pipe(process.stdout)";
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Runs a tool that writes `file` to stdout through `output`, holding every chunk for a random few
 * milliseconds before copying it out: if a slab were reused while held, the copy would show it.
 */
async function readThrough(t: Test, output: ToolOutput, file: string) {
  const run = runPgTool({ path: node, args: ['-e', COPY_TO_STDOUT, file], env: {}, stdout: output.stdout });
  const parts: Buffer[] = [];
  let held = 0;
  let mostHeld = 0;
  const settled: Promise<void>[] = [];
  await new Promise<void>((resolve, reject) => {
    output.start(run.stdout, {
      onChunk(chunk, hold) {
        const release = hold();
        const index = parts.push(Buffer.alloc(0)) - 1;
        mostHeld = Math.max(mostHeld, ++held);
        settled.push(
          sleep(Math.random() * 3).then(() => {
            parts[index] = Buffer.from(chunk);
            held--;
            release();
          }),
        );
      },
      onEnd: resolve,
      onError: reject,
    });
  });
  await Promise.all([...settled, run.done]);
  output.destroy();
  t.ok(mostHeld <= TOOL_OUTPUT_SLABS, `at most ${TOOL_OUTPUT_SLABS} chunks held at once (saw ${mostHeld})`);
  return Buffer.concat(parts);
}

t.test('a tool output delivers every byte in order, while chunks are held by slow writes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tool-output-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'data');
  const data = randomBytes(6 * 1024 * 1024 + 17);
  await writeFile(file, data);

  const output = await openToolOutput();
  t.not(output.stdout, 'pipe', 'a socket pair, read into reused buffers');
  const received = await readThrough(t, output, file);
  t.equal(received.length, data.length);
  t.equal(sha256(received), sha256(data), 'the same bytes: no slab was reused while held');
  t.notOk(
    (await readdir(tmpdir())).some((name) => name.startsWith(`pgsteward-job-${process.pid}-`)),
    'the socket directory is gone once the channel is open',
  );
});

t.test('with a TMPDIR too long for a socket path, a tool output falls back to a pipe', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tool-output-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'data');
  const data = randomBytes(3 * 1024 * 1024 + 5);
  await writeFile(file, data);
  const deep = join(dir, 'd'.repeat(60), 'e'.repeat(60));
  await mkdir(deep, { recursive: true });
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = deep;
  let output: ToolOutput;
  try {
    output = await openToolOutput();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  t.equal(output.stdout, 'pipe');
  const received = await readThrough(t, output, file);
  t.equal(sha256(received), sha256(data));
});

t.test('destroying a tool output stops the flow: the tool is not left writing into it', async (t) => {
  const output = await openToolOutput();
  const endless =
    "process.stdout.on('error', () => process.exit(3)); const b = Buffer.alloc(65536, 1);" +
    'const w = (err) => err || process.stdout.write(b, w); w()';
  const run = runPgTool({ path: node, args: ['-e', endless], env: {}, stdout: output.stdout });
  let chunks = 0;
  output.start(run.stdout, {
    onChunk: () => {
      if (++chunks === 10) output.destroy();
    },
    onEnd: () => undefined,
    onError: () => undefined,
  });
  await t.rejects(run.done, /exited with code 3/, 'the tool sees EPIPE once nobody reads');
  t.equal(chunks, 10, 'nothing is delivered after destroy()');
});
