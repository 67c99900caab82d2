import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Errors } from '../../errors.js';
import { dbnameArgument } from '../../pgtools/conninfo.js';
import type { PgInstallation } from '../../pgtools/installations.js';
import { PgToolError, redactSecrets, runPgTool } from '../../pgtools/run-tool.js';
import { type SelectedTool, selectClientTool } from '../../pgtools/select-tool.js';
import { TaskFailure, TaskFailures } from '../../task-failures.js';
import type { ToolCredentials } from '../targets/connect.js';
import { tocTooLarge } from './errors.js';
import type { PlainDumpOutline } from './plain-guard.js';
import type { TocEntry } from './toc.js';

export type RestorePhase = 'verify' | 'create' | 'pre-data' | 'data' | 'post-data';

export interface ToolProgress {
  phase: RestorePhase;
  itemsDone: number;
  itemsTotal: number | null;
  currentItem: string | null;
}

const PHASE_ORDER: RestorePhase[] = ['pre-data', 'data', 'post-data'];
const POST_DATA =
  /^(INDEX|INDEX ATTACH|CONSTRAINT|FK CONSTRAINT|TRIGGER|EVENT TRIGGER|RULE|POLICY|PUBLICATION|PUBLICATION TABLE|SUBSCRIPTION|STATISTICS|MATERIALIZED VIEW DATA)\b/;
// pg_restore --verbose, one line per item: "creating TABLE "public.users"", "processing data for table
// "public.users"", "executing SEQUENCE SET users_id_seq".
const ITEM_LINE = /^pg_restore: (creating|processing data for table|executing|restoring) (.*)$/;
const ERROR_LINE = /\b(ERROR|FATAL|error):/;

/**
 * The archive a tool reads: a path, or a path naming a descriptor the tool inherits (/proc/self/fd/3
 * for the first of `fds`; see verifyInPlace).
 */
export type ArchiveRef = string | { path: string; fds: number[] };
export const archivePath = (a: ArchiveRef): string => (typeof a === 'string' ? a : a.path);
export const archiveFds = (a: ArchiveRef): number[] => (typeof a === 'string' ? [] : a.fds);

/**
 * The most `pg_restore --list` text held in memory: 64 MiB is about 600,000 catalog entries (a line is
 * ~100 bytes), far past any real database, and still small enough that a crafted archive cannot
 * exhaust the worker's memory.
 */
export const MAX_TOC_BYTES = 64 * 1024 * 1024;

/**
 * `pg_restore --list`: the archive's table of contents, as text, at most `maxBytes` of it. Past the
 * bound, pg_restore is stopped and the restore fails with PGS_RESTORE_TOC_TOO_LARGE.
 */
export async function listArchive(
  pgRestore: SelectedTool,
  archive: ArchiveRef,
  signal: AbortSignal,
  maxBytes = MAX_TOC_BYTES,
): Promise<string> {
  const tooLarge = new AbortController();
  const run = runPgTool({
    path: pgRestore.path,
    args: ['--list', archivePath(archive)],
    inheritFds: archiveFds(archive),
    env: {},
    signal: AbortSignal.any([signal, tooLarge.signal]),
    stdout: 'pipe',
  });
  const chunks: Buffer[] = [];
  let bytes = 0;
  run.stdout?.on('data', (chunk: Buffer) => {
    if (tooLarge.signal.aborted) return;
    bytes += chunk.length;
    if (bytes > maxBytes) tooLarge.abort();
    else chunks.push(chunk);
  });
  try {
    await run.done;
  } catch (err) {
    if (tooLarge.signal.aborted && !signal.aborted) throw tocTooLarge(maxBytes);
    throw err;
  }
  if (tooLarge.signal.aborted) throw tocTooLarge(maxBytes);
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes a --use-list file holding exactly these entries; returns its path. */
export function listWriter(dir: string): (entries: TocEntry[]) => Promise<string> {
  let n = 0;
  return async (entries) => {
    const path = join(dir, `restore-${++n}.list`);
    await writeFile(path, `${entries.map((e) => e.line).join('\n')}\n`, { mode: 0o600 });
    return path;
  };
}

/** A failed tool run as the job's failure: the tool's first error line, redacted. */
export function toolFailure(err: unknown, firstError: string | null): unknown {
  if (!(err instanceof PgToolError) || err.name !== 'PgToolError') return err;
  const line = redactSecrets(firstError ?? err.message.split('\n').find((l) => ERROR_LINE.test(l)) ?? err.message);
  return TaskFailures.restoreFailed(`${err.tool} failed: ${line.slice(0, 1000)}`);
}

/**
 * pg_restore --exit-on-error into the database named by `tool.conninfo`, reporting items done (from
 * --verbose) against `itemsTotal` (from --list).
 */
export async function runPgRestore(o: {
  pgRestore: SelectedTool;
  tool: ToolCredentials;
  archive: ArchiveRef;
  format: 'custom' | 'directory' | 'tar';
  parallel: number;
  noOwner: boolean;
  noPrivileges: boolean;
  listPath: string | null;
  itemsTotal: number;
  signal: AbortSignal;
  onProgress: (p: ToolProgress) => void;
}): Promise<void> {
  let phase: RestorePhase = 'pre-data';
  let itemsDone = 0;
  let firstError: string | null = null;
  const args = [
    '--exit-on-error',
    '--verbose',
    '--no-password',
    dbnameArgument(o.tool.conninfo),
    ...(o.parallel > 1 && o.format !== 'tar' ? [`--jobs=${o.parallel}`] : []),
    ...(o.noOwner ? ['--no-owner'] : []),
    ...(o.noPrivileges ? ['--no-privileges'] : []),
    ...(o.listPath ? [`--use-list=${o.listPath}`] : []),
    archivePath(o.archive),
  ];
  o.onProgress({ phase, itemsDone, itemsTotal: o.itemsTotal, currentItem: null });
  const run = runPgTool({
    path: o.pgRestore.path,
    args,
    inheritFds: archiveFds(o.archive),
    env: o.tool.env,
    signal: o.signal,
    onStderrLine: (line) => {
      if (firstError === null && ERROR_LINE.test(line)) firstError = line;
      const m = ITEM_LINE.exec(line);
      if (!m) return;
      const [, action, what] = m as unknown as [string, string, string];
      const itemPhase: RestorePhase =
        action === 'processing data for table' || what.startsWith('SEQUENCE SET') || action === 'restoring'
          ? 'data'
          : POST_DATA.test(what)
            ? 'post-data'
            : 'pre-data';
      if (PHASE_ORDER.indexOf(itemPhase) > PHASE_ORDER.indexOf(phase)) phase = itemPhase;
      itemsDone = Math.min(itemsDone + 1, o.itemsTotal);
      o.onProgress({ phase, itemsDone, itemsTotal: o.itemsTotal, currentItem: what.slice(0, 200) });
    },
  });
  try {
    await run.done;
  } catch (err) {
    throw toolFailure(err, firstError);
  }
}

/**
 * The first psql release of each major with `\restrict` (CVE-2025-8714; release notes of 2025-08-14);
 * 18.0 and later have it. psql 12 and older never got it.
 */
const FIRST_RESTRICT_MINOR: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };

/** Does this psql (its version, e.g. "15.18" or "18beta2") know `\restrict`? */
export function psqlHasRestrict(version: string): boolean {
  const m = /^(\d+)(?:\.(\d+))?(.*)$/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = m[2] === undefined ? null : Number(m[2]);
  if (major >= 19) return true;
  // 18's betas and release candidates may predate the fix: only a release counts.
  if (major === 18) return minor !== null && m[3] === '';
  const first = FIRST_RESTRICT_MINOR[major];
  return first !== undefined && minor !== null && minor >= first;
}

/**
 * The psql for a plain restore: as selectClientTool, among installations whose psql knows `\restrict`.
 * When only older ones would do, PGS_PSQL_UNSAFE: a plain dump is never fed to a psql that cannot be told
 * to refuse meta-commands.
 */
export async function selectRestrictingPsql(needed: number, installations: PgInstallation[]): Promise<SelectedTool> {
  try {
    return await selectClientTool(
      'psql',
      needed,
      installations.filter((i) => psqlHasRestrict(i.version)),
    );
  } catch (err) {
    const unsafe = await selectClientTool('psql', needed, installations).catch(() => null);
    if (unsafe) throw Errors.psqlUnsafe(unsafe.version);
    throw err;
  }
}

const UNRESTRICT = Buffer.from('\\unrestrict');

/**
 * What psql reads: first our own `\restrict <random key>` line, so psql refuses every meta-command
 * (`\!`, `\o`, `\copy`, ...) whatever the dump says, and cannot be let out by a dump that never saw the
 * key. Then the script, without pg_dump's own `\restrict`/`\unrestrict` lines (`skip`, as the guard
 * recorded them: psql refuses a second `\restrict`, and `\unrestrict` with pg_dump's key is wrong).
 *
 * psql up to 15.18 (and 14.23, 16.14, 17.10, 18.5) expands backquotes in `\unrestrict`'s argument even
 * while restricted, so `\unrestrict \`cmd\`` runs a shell (reproduced with psql 15.18). So any other
 * `\unrestrict` anywhere in the bytes stops the feed before psql reads it (PGS_DUMP_REFUSED); that needs
 * no lexer, so it holds even where the guard and psql disagree about quotes.
 */
export class RestrictedScript extends Transform {
  /** Input bytes seen so far: the `skip` ranges are input offsets. */
  #offset = 0;
  #skipIndex = 0;
  /** The last output bytes, held back until it is clear they do not start `\unrestrict`. */
  #held: Buffer = Buffer.alloc(0);

  constructor(
    key: string,
    private readonly skip: { start: number; end: number }[],
  ) {
    super();
    if (!/^[A-Za-z0-9]{32,}$/.test(key)) throw new Error('a restrict key is at least 32 letters and digits');
    this.push(`\\restrict ${key}\n`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const kept: Buffer[] = [this.#held];
    let at = 0;
    while (at < chunk.length) {
      const range = this.skip[this.#skipIndex];
      const pos = this.#offset + at;
      if (range && pos >= range.end) {
        this.#skipIndex++;
        continue;
      }
      if (range && pos >= range.start) {
        at = Math.min(chunk.length, range.end - this.#offset);
        continue;
      }
      const until = range ? Math.min(chunk.length, range.start - this.#offset) : chunk.length;
      kept.push(chunk.subarray(at, until));
      at = until;
    }
    this.#offset += chunk.length;
    const out = Buffer.concat(kept);
    if (out.indexOf(UNRESTRICT) !== -1) {
      done(TaskFailures.foreignUnrestrict());
      return;
    }
    const keep = Math.min(out.length, UNRESTRICT.length - 1);
    this.#held = Buffer.from(out.subarray(out.length - keep));
    done(null, out.subarray(0, out.length - keep));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.#held);
  }
}

/** A fresh key for one restore: random, never derived from the dump. */
export const newRestrictKey = (): string => randomBytes(32).toString('hex');

/** Counts the bytes handed to psql, to turn them into statements done (the outline's offsets). */
class Fed extends Transform {
  bytes = 0;
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes(this.bytes);
    done(null, chunk);
  }
}

/**
 * A plain dump through psql: no psqlrc, ON_ERROR_STOP, one transaction, the script on stdin (already
 * passed by the guard) behind our own `\\restrict` line (RestrictedScript). Progress: statements whose
 * end has been handed to psql. A refused feed stops psql at once, so nothing after it runs.
 */
export async function runPsql(o: {
  psql: SelectedTool;
  tool: ToolCredentials;
  path: string;
  outline: PlainDumpOutline;
  signal: AbortSignal;
  onProgress: (p: ToolProgress) => void;
}): Promise<void> {
  const ends = o.outline.statementEnds;
  const copies = o.outline.copies;
  const firstCopy = copies[0]?.start ?? Number.POSITIVE_INFINITY;
  const lastCopyEnd = copies[copies.length - 1]?.end ?? Number.POSITIVE_INFINITY;
  let itemsDone = 0;
  let copyIndex = 0;
  let firstError: string | null = null;
  const report = (bytes: number) => {
    while (itemsDone < ends.length && (ends[itemsDone] as number) <= bytes) itemsDone++;
    while (copyIndex < copies.length && (copies[copyIndex] as { end: number }).end <= bytes) copyIndex++;
    const phase: RestorePhase = bytes < firstCopy ? 'pre-data' : bytes <= lastCopyEnd ? 'data' : 'post-data';
    const copy = copies[copyIndex];
    const currentItem = copy && copy.start <= bytes ? `TABLE DATA ${copy.table}` : null;
    o.onProgress({ phase, itemsDone, itemsTotal: ends.length, currentItem });
  };
  report(0);
  const stop = new AbortController();
  const signal = AbortSignal.any([o.signal, stop.signal]);
  const run = runPgTool({
    path: o.psql.path,
    args: [
      '--no-psqlrc',
      '--no-password',
      '--quiet',
      '--set=ON_ERROR_STOP=1',
      '--single-transaction',
      '--file=-',
      dbnameArgument(o.tool.conninfo),
    ],
    env: o.tool.env,
    signal,
    stdin: 'pipe',
    onStderrLine: (line) => {
      if (firstError === null && ERROR_LINE.test(line)) firstError = line;
    },
  });
  const script = new RestrictedScript(newRestrictKey(), o.outline.restrictLines);
  const feeding = pipeline(createReadStream(o.path), new Fed(report), script, run.stdin as Writable).catch((err) => {
    if (err instanceof TaskFailure) stop.abort(); // refused: psql must not run what it already has
    throw err;
  });
  const [fed, exited] = await Promise.allSettled([feeding, run.done]);
  if (fed.status === 'rejected' && fed.reason instanceof TaskFailure) throw fed.reason;
  if (exited.status === 'rejected') throw toolFailure(exited.reason, firstError);
  if (fed.status === 'rejected') throw fed.reason;
}
