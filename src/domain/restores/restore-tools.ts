import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { JobFailure } from '../../jobs/types.js';
import { dbnameArgument } from '../../pgtools/conninfo.js';
import { PgToolError, redactSecrets, runPgTool } from '../../pgtools/run-tool.js';
import type { SelectedTool } from '../../pgtools/select-tool.js';
import type { ToolCredentials } from '../targets/connect.js';
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

/** `pg_restore --list`: the archive's table of contents, as text. */
export async function listArchive(pgRestore: SelectedTool, path: string, signal: AbortSignal): Promise<string> {
  const run = runPgTool({ path: pgRestore.path, args: ['--list', path], env: {}, signal, stdout: 'pipe' });
  let text = '';
  run.stdout?.setEncoding('utf8');
  run.stdout?.on('data', (chunk: string) => {
    text += chunk;
  });
  await run.done;
  return text;
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
  return new JobFailure('PGS_RESTORE_FAILED', `${err.tool} failed: ${line.slice(0, 1000)}`);
}

/**
 * pg_restore --exit-on-error into the database named by `tool.conninfo`, reporting items done (from
 * --verbose) against `itemsTotal` (from --list).
 */
export async function runPgRestore(o: {
  pgRestore: SelectedTool;
  tool: ToolCredentials;
  path: string;
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
    o.path,
  ];
  o.onProgress({ phase, itemsDone, itemsTotal: o.itemsTotal, currentItem: null });
  const run = runPgTool({
    path: o.pgRestore.path,
    args,
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
 * passed by the guard). Progress: statements whose end has been handed to psql.
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
    signal: o.signal,
    stdin: 'pipe',
    onStderrLine: (line) => {
      if (firstError === null && ERROR_LINE.test(line)) firstError = line;
    },
  });
  const feeding = pipeline(createReadStream(o.path), new Fed(report), run.stdin as Writable);
  const [fed, exited] = await Promise.allSettled([feeding, run.done]);
  if (exited.status === 'rejected') throw toolFailure(exited.reason, firstError);
  if (fed.status === 'rejected') throw fed.reason;
}
