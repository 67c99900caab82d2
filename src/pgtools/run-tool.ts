import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { APPLICATION_NAME } from './conninfo.js';

export interface RunPgToolOptions {
  /** Absolute path of the program, e.g. from selectClientTool. */
  path: string;
  /** The argv after the program name. Never put a password here: /proc/<pid>/cmdline is world-readable. */
  args: string[];
  /** Added to the minimal environment; typically `{ PGPASSFILE }`. PGPASSWORD is refused. */
  env: Record<string, string>;
  /** Aborting stops the tool (see stopTool) and rejects `done` with an AbortError. */
  signal?: AbortSignal;
  /**
   * 'pipe' hands back stdout, which the caller MUST consume (or the tool blocks); a socket becomes the
   * tool's stdout (see openToolOutput); default 'ignore'.
   */
  stdout?: 'pipe' | 'ignore' | Socket;
  /** 'pipe' hands back stdin (e.g. to feed pg_restore an archive); default 'ignore'. */
  stdin?: 'pipe' | 'ignore';
  /** Each stderr line, with password-looking parts redacted: progress and warnings for the job log. */
  onStderrLine?: (line: string) => void;
  /** Stops the tool after this long and rejects `done` with a TimeoutError. */
  timeoutMs?: number;
  /**
   * Open descriptors the tool inherits as its fds 3, 4, ...: a file it may name as /proc/self/fd/3
   * (reopened there, so each forked worker of pg_restore -j gets its own offset on the same inode).
   */
  inheritFds?: number[];
}

export interface PgToolRun {
  child: ChildProcess;
  stdout: Readable | null;
  stdin: Writable | null;
  /** Resolves on exit code 0; rejects with a PgToolError (name AbortError/TimeoutError when stopped). */
  done: Promise<{ exitCode: number; stderrTail: string }>;
}

/** How much stderr survives for the error message: the end is where the reason is. */
const STDERR_TAIL_CHARS = 64 * 1024;
/** A "line" without a newline this long is cut, so one runaway line cannot grow memory without bound. */
const MAX_LINE_CHARS = 8 * 1024;
/** After SIGINT (which makes psql, pg_dump and pg_restore send the server a cancel request)... */
const TERM_AFTER_MS = 250;
/** ...and SIGKILL for whatever is still alive this long after the stop began. */
const KILL_AFTER_MS = 1_500;
/** After the tool exits, how long stderr may take to drain before we stop waiting for it. */
const STDERR_DRAIN_GRACE_MS = 250;

/** The tool exited non-zero, was killed, was aborted (name 'AbortError') or timed out ('TimeoutError'). */
export class PgToolError extends Error {
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    message: string,
    name: 'PgToolError' | 'AbortError' | 'TimeoutError' = 'PgToolError',
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * Masks anything that looks like a password: `password=...` (conninfo, URLs' query strings), the
 * password part of `postgres://user:password@host`, and `PASSWORD '...'` in echoed SQL (pg_dumpall's
 * CREATE ROLE lines). "password authentication failed" and the like are left alone.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/(password\s*=\s*)('(?:\\.|[^'\\])*'?|"[^"]*"?|[^\s&'"]+)/gi, '$1[redacted]')
    .replace(/(\bpassword\s+)('(?:''|[^'])*'?)/gi, "$1'[redacted]'")
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1[redacted]@');
}

/**
 * The child's whole environment. Nothing is inherited but PATH: an inherited PGPASSWORD would leak into
 * /proc/<pid>/environ, and an inherited PGHOST, PGSSLMODE or PGSERVICE would silently change where and
 * how the tool connects.
 */
function toolEnvironment(env: Record<string, string>): Record<string, string> {
  if ('PGPASSWORD' in env) throw new Error('PGPASSWORD must not be passed to a tool; use a passfile (PGPASSFILE)');
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    PGAPPNAME: APPLICATION_NAME,
    PGCONNECT_TIMEOUT: '10',
    // psql would otherwise run ~/.psqlrc of the account pgsteward runs as.
    PSQLRC: '/dev/null',
    ...env,
  };
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Tools run in their own process group; do not leave them running when we exit. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGTERM');
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal); // the whole group: pg_dump -j workers, pg_dumpall's pg_dump children
  } catch {
    // ESRCH: already gone.
  }
}

/** Collects stderr as lines for `onLine`, keeping only the last STDERR_TAIL_CHARS for the error. */
function stderrCollector(onLine: ((line: string) => void) | undefined) {
  const decoder = new StringDecoder('utf8');
  const tail: string[] = [];
  let tailChars = 0;
  let partial = '';
  const emit = (raw: string) => {
    const line = redactSecrets(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    tail.push(line);
    tailChars += line.length + 1;
    while (tailChars > STDERR_TAIL_CHARS && tail.length > 1) tailChars -= (tail.shift() ?? '').length + 1;
    onLine?.(line);
  };
  const push = (text: string) => {
    partial += text;
    let newline = partial.indexOf('\n');
    while (newline !== -1) {
      emit(partial.slice(0, newline));
      partial = partial.slice(newline + 1);
      newline = partial.indexOf('\n');
    }
    while (partial.length > MAX_LINE_CHARS) {
      emit(`${partial.slice(0, MAX_LINE_CHARS)} [line cut]`);
      partial = partial.slice(MAX_LINE_CHARS);
    }
  };
  return {
    write: (chunk: Buffer) => push(decoder.write(chunk)),
    end: () => {
      push(decoder.end());
      if (partial !== '') emit(partial);
      partial = '';
    },
    tail: () => tail.join('\n').slice(-STDERR_TAIL_CHARS),
  };
}

/**
 * Runs a PostgreSQL client tool with an argv array (no shell), a minimal environment and bounded stderr
 * capture.
 *
 * Stopping (abort or timeout) sends SIGINT first, because psql only cancels its running query on SIGINT
 * (SIGTERM kills it and leaves the backend running until the query ends); pg_dump and pg_restore send a
 * cancel request on either. SIGTERM follows after 250 ms, SIGKILL 1.5 s after the stop began. Signals go
 * to the tool's process group, so helpers it forked stop too.
 */
export function runPgTool(opts: RunPgToolOptions): PgToolRun {
  const tool = basename(opts.path);
  const env = toolEnvironment(opts.env);
  installExitHook();
  const child = spawn(opts.path, opts.args, {
    env,
    shell: false,
    detached: true, // own process group, see signalGroup
    stdio: [opts.stdin ?? 'ignore', opts.stdout ?? 'ignore', 'pipe', ...(opts.inheritFds ?? [])],
  });
  const pgid = child.pid;
  if (pgid !== undefined) liveGroups.add(pgid);
  const stderr = stderrCollector(opts.onStderrLine);

  const done = new Promise<{ exitCode: number; stderrTail: string }>((resolve, reject) => {
    let stoppedBy: 'AbortError' | 'TimeoutError' | undefined;
    let exited = false;
    const timers: NodeJS.Timeout[] = [];
    const stop = (why: 'AbortError' | 'TimeoutError') => {
      if (exited || stoppedBy !== undefined || pgid === undefined) return;
      stoppedBy = why;
      signalGroup(pgid, 'SIGINT');
      timers.push(setTimeout(() => signalGroup(pgid, 'SIGTERM'), TERM_AFTER_MS));
      timers.push(setTimeout(() => signalGroup(pgid, 'SIGKILL'), KILL_AFTER_MS));
    };
    const onAbort = () => stop('AbortError');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMs !== undefined) timers.push(setTimeout(() => stop('TimeoutError'), opts.timeoutMs));

    let stderrEnded = false;
    let finish: (() => void) | undefined;
    child.stderr?.on('data', (chunk: Buffer) => stderr.write(chunk));
    child.stderr?.once('end', () => {
      stderrEnded = true;
      finish?.();
    });

    const cleanUp = () => {
      for (const timer of timers) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pgid !== undefined) liveGroups.delete(pgid);
    };

    child.once('error', (err) => {
      // spawn failed (ENOENT, EACCES): there is no process to wait for.
      exited = true;
      cleanUp();
      reject(new PgToolError(tool, null, null, '', `could not start ${tool}: ${err.message}`));
    });

    child.once('exit', (code, signal) => {
      exited = true;
      // A SIGKILLed group member may still hold the stderr pipe for a moment; do not wait forever.
      const drainTimer = setTimeout(() => finish?.(), STDERR_DRAIN_GRACE_MS);
      finish = () => {
        finish = undefined;
        clearTimeout(drainTimer);
        child.stderr?.destroy();
        stderr.end();
        cleanUp();
        const stderrTail = stderr.tail();
        if (code === 0 && stoppedBy === undefined) {
          resolve({ exitCode: 0, stderrTail });
          return;
        }
        const how =
          stoppedBy === 'AbortError'
            ? 'was cancelled'
            : stoppedBy === 'TimeoutError'
              ? `timed out after ${opts.timeoutMs} ms`
              : signal !== null
                ? `was killed by ${signal}`
                : `exited with code ${code}`;
        const lastLines = stderrTail.trimEnd().split('\n').slice(-20).join('\n');
        reject(
          new PgToolError(
            tool,
            code,
            signal,
            stderrTail,
            `${tool} ${how}${lastLines === '' ? '' : `: ${lastLines}`}`,
            stoppedBy ?? 'PgToolError',
          ),
        );
      };
      if (stderrEnded || child.stderr === null) finish();
    });

    if (opts.signal?.aborted) onAbort();
  });

  return { child, stdout: child.stdout, stdin: child.stdin, done };
}
