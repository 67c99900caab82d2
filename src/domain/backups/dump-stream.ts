import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Errors } from '../../errors.js';
import { type PgToolRun, runPgTool } from '../../pgtools/run-tool.js';
import type { SelectedTool } from '../../pgtools/select-tool.js';
import { openToolOutput, type ToolOutput } from '../../pgtools/tool-output.js';
import type { BackupFormat } from './options.js';
import type { ArtifactStorage, StoredObject } from './storage/artifact-storage.js';
import { TarStructureCheck } from './tar-check.js';

/** pg_dump's last words in a complete plain-format dump (before 15.18's \unrestrict line). */
export const PLAIN_DUMP_TRAILER = '-- PostgreSQL database dump complete';

const TAIL_BYTES = 4096;

/** Keeps the last bytes that passed, for the plain format's completion trailer; copies, never allocates. */
class TailKeeper {
  readonly #buffer = Buffer.alloc(TAIL_BYTES);
  #length = 0;

  observe(chunk: Buffer): void {
    if (chunk.length >= TAIL_BYTES) {
      chunk.copy(this.#buffer, 0, chunk.length - TAIL_BYTES);
      this.#length = TAIL_BYTES;
      return;
    }
    const kept = Math.min(this.#length, TAIL_BYTES - chunk.length);
    this.#buffer.copyWithin(0, this.#length - kept, this.#length);
    chunk.copy(this.#buffer, kept);
    this.#length = kept + chunk.length;
  }

  get tail(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
}

/**
 * Hands every chunk of pg_dump's output to the inspectors (synchronously), to the verifier (pg_restore's
 * stdin) and to the storage writer, and holds the chunk's buffer until both writes are done with it;
 * the output channel pauses pg_dump's stdout while too many chunks are held, which is the backpressure.
 * If the verifier goes away early, the main flow continues: its own exit status reports why.
 * Resolves once the storage stream has finished.
 */
function pumpDump(o: {
  output: ToolOutput;
  stdout: Readable | null;
  verifier: Writable | null;
  inspect: ((chunk: Buffer) => void) | undefined;
  sink: Writable;
}): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { output, sink } = o;
    let verifier = o.verifier;
    const verifierHolds = new Set<() => void>();
    // After 'close' no write of the verifier's is in flight: what it still held is free.
    verifier?.on('close', () => {
      verifier = null;
      for (const release of verifierHolds) release();
      verifierHolds.clear();
    });
    verifier?.on('error', () => {
      verifier = null;
    });
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      output.destroy();
      reject(err);
    };
    output.start(o.stdout, {
      onChunk(chunk, hold) {
        o.inspect?.(chunk);
        if (verifier !== null) {
          const release = hold();
          verifierHolds.add(release);
          verifier.write(chunk, () => {
            verifierHolds.delete(release);
            release();
          });
        }
        const release = hold();
        sink.write(chunk, (err) => {
          release();
          if (err) fail(err);
        });
      },
      onEnd() {
        verifier?.end();
        sink.end();
      },
      onError: fail,
    });
    finished(sink).then(() => {
      if (!failed) resolve();
    }, fail);
  });
}

/** What every way of running pg_dump into storage needs (the format's own needs come on top). */
export interface DumpRun {
  pgDump: SelectedTool;
  /** Reads the dump back before it is committed. */
  pgRestore: SelectedTool;
  env: Record<string, string>;
  storage: ArtifactStorage;
  key: string;
  /** Staging group of the temporary object (the backup id): see ArtifactStorage.discardStaged. */
  group: string;
  signal: AbortSignal;
  onStderrLine: (line: string) => void;
  onProgress: (bytes: number) => void;
}

export interface StreamedDump {
  stored: StoredObject;
  /** The read check that passed: what a broken dump would have failed. */
  verifiedBy: string;
}

/**
 * Run pg_dump for a single-file format and stream its output into storage, proving the result whole
 * before it is committed under its final name:
 * - custom: pg_restore reads every byte as it streams (--file=/dev/null), in parallel with the upload;
 * - tar: the same, plus a structural check of the tar stream (pg_restore misses truncation there);
 * - plain: the completion trailer pg_dump writes last.
 * Then the stored copy's size and sha256 are checked again (ArtifactWriter.commit). On any failure, or
 * when `signal` fires, every child is stopped and nothing is left under `key`.
 */
export async function streamDumpToStorage(
  o: DumpRun & { format: Exclude<BackupFormat, 'directory'>; args: string[] },
): Promise<StreamedDump> {
  // One controller for the whole attempt: the first failure stops every other part.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(o.signal.reason);
  o.signal.addEventListener('abort', onOuterAbort, { once: true });
  const writer = await o.storage.createWriter(o.key, { signal: stop.signal, group: o.group });
  const runs: PgToolRun[] = [];
  let output: ToolOutput | undefined;
  try {
    output = await openToolOutput();
    const dump = runPgTool({
      path: o.pgDump.path,
      args: o.args,
      env: o.env,
      signal: stop.signal,
      stdout: output.stdout,
      onStderrLine: o.onStderrLine,
    });
    runs.push(dump);
    let verifier: Writable | null = null;
    let tarCheck: TarStructureCheck | undefined;
    let tail: TailKeeper | undefined;
    if (o.format === 'custom' || o.format === 'tar') {
      const verify = runPgTool({
        path: o.pgRestore.path,
        args: [`--format=${o.format}`, '--file=/dev/null'],
        env: {},
        signal: stop.signal,
        stdin: 'pipe',
      });
      runs.push(verify);
      verifier = verify.stdin;
      if (o.format === 'tar') tarCheck = new TarStructureCheck();
    } else {
      tail = new TailKeeper();
    }
    const inspector = tarCheck ?? tail;
    const progress = setInterval(() => o.onProgress(writer.bytesWritten), 500);
    try {
      await Promise.all([
        pumpDump({
          output,
          stdout: dump.stdout,
          verifier,
          inspect: inspector && ((chunk) => inspector.observe(chunk)),
          sink: writer.stream,
        }),
        ...runs.map((r) => r.done),
      ]);
    } finally {
      clearInterval(progress);
    }
    o.onProgress(writer.bytesWritten);
    let verifiedBy = 'pg_restore --file=/dev/null read the whole archive';
    if (tarCheck) {
      const problem = tarCheck.verdict();
      if (problem) throw Errors.artifactIncomplete(`the tar archive is not whole: ${problem}`);
      verifiedBy += '; tar structure complete';
    }
    if (tail) {
      if (!tail.tail.toString('utf8').includes(PLAIN_DUMP_TRAILER)) {
        throw Errors.artifactIncomplete('the plain dump does not end with its completion trailer');
      }
      verifiedBy = 'completion trailer present';
    }
    return { stored: await writer.commit(), verifiedBy };
  } catch (err) {
    stop.abort(err);
    output?.destroy();
    await Promise.allSettled(runs.map((r) => r.done));
    await writer.abort();
    throw err;
  } finally {
    output?.destroy();
    o.signal.removeEventListener('abort', onOuterAbort);
  }
}
