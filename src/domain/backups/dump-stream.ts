import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Errors } from '../../errors.js';
import { type PgToolRun, runPgTool } from '../../pgtools/run-tool.js';
import type { SelectedTool } from '../../pgtools/select-tool.js';
import type { BackupFormat } from './options.js';
import type { ArtifactStorage, StoredObject } from './storage/artifact-storage.js';
import { TarStructureCheck } from './tar-check.js';

/** pg_dump's last words in a complete plain-format dump (before 15.18's \unrestrict line). */
export const PLAIN_DUMP_TRAILER = '-- PostgreSQL database dump complete';

/**
 * Copies every chunk to a side stream (pg_restore's stdin) while passing it on, with backpressure from
 * both. If the side goes away early, the main flow continues: the side's own exit status reports why.
 */
class Tee extends Transform {
  #side: Writable | null;
  #waiting: (() => void) | null = null;

  constructor(side: Writable) {
    super();
    this.#side = side;
    const release = () => {
      this.#side = null;
      this.#waiting?.();
      this.#waiting = null;
    };
    side.on('error', release);
    side.on('close', release);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const side = this.#side;
    if (side === null || side.write(chunk)) {
      done(null, chunk);
      return;
    }
    this.#waiting = () => done(null, chunk);
    side.once('drain', () => {
      this.#waiting?.();
      this.#waiting = null;
    });
  }

  override _flush(done: TransformCallback): void {
    this.#side?.end();
    done();
  }
}

/** Keeps the last bytes that passed, for the plain format's completion trailer. */
class TailKeeper extends Transform {
  tail = Buffer.alloc(0);
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.tail = Buffer.concat([this.tail, chunk]).subarray(-4096);
    done(null, chunk);
  }
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
export async function streamDumpToStorage(o: {
  format: Exclude<BackupFormat, 'directory'>;
  pgDump: SelectedTool;
  pgRestore: SelectedTool;
  args: string[];
  env: Record<string, string>;
  storage: ArtifactStorage;
  key: string;
  /** Staging group of the temporary object (the backup id): see ArtifactStorage.discardStaged. */
  group: string;
  signal: AbortSignal;
  onStderrLine: (line: string) => void;
  onProgress: (bytes: number) => void;
}): Promise<StreamedDump> {
  // One controller for the whole attempt: the first failure stops every other part.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(o.signal.reason);
  o.signal.addEventListener('abort', onOuterAbort, { once: true });
  const writer = await o.storage.createWriter(o.key, { signal: stop.signal, group: o.group });
  const runs: PgToolRun[] = [];
  try {
    const dump = runPgTool({
      path: o.pgDump.path,
      args: o.args,
      env: o.env,
      signal: stop.signal,
      stdout: 'pipe',
      onStderrLine: o.onStderrLine,
    });
    runs.push(dump);
    const stages: Transform[] = [];
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
      stages.push(new Tee(verify.stdin as Writable));
      if (o.format === 'tar') {
        tarCheck = new TarStructureCheck();
        stages.push(tarCheck);
      }
    } else {
      tail = new TailKeeper();
      stages.push(tail);
    }
    const progress = setInterval(() => o.onProgress(writer.bytesWritten), 500);
    try {
      await Promise.all([
        pipeline([dump.stdout as NodeJS.ReadableStream, ...stages, writer.stream]),
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
    await Promise.allSettled(runs.map((r) => r.done));
    await writer.abort();
    throw err;
  } finally {
    o.signal.removeEventListener('abort', onOuterAbort);
  }
}
