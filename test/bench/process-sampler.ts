import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** One `/proc/<pid>/status` field in kB (VmRSS, VmHWM), or null once the process is gone. */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}

/**
 * Resets the kernel's peak-RSS counter (VmHWM) to the current RSS, so the next VmHWM read is the peak
 * of one measured interval rather than of the process's whole life (Linux >= 4.0; we run as root).
 */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** User + system CPU of a process and of its reaped children, in seconds (/proc/<pid>/stat). */
export function cpuSeconds(pid: number | 'self'): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; every field after its closing parenthesis is numeric.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = (i: number) => Number(fields[i - 3] ?? 0) / CLOCK_TICKS;
  return { own: tick(14) + tick(15), children: tick(16) + tick(17) };
}

/** USER_HZ is 100 on every Linux architecture that node runs on. */
const CLOCK_TICKS = 100;

function childrenOf(pid: number): number[] {
  const found: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') for (const child of text.split(/\s+/)) found.push(Number(child));
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return found;
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

export interface SampledChild {
  pid: number;
  comm: string;
  /** The last VmHWM read while it was alive: its peak RSS, up to one interval before it exited. */
  peakKb: number;
  /** Milliseconds since the sampler started. */
  firstSeenMs: number;
  lastSeenMs: number;
}

export interface SamplerReport {
  /** Highest VmRSS seen across the root processes' samples. */
  rootSampledPeakKb: number;
  children: SampledChild[];
}

/**
 * Samples, every `intervalMs`, the RSS of some root processes and the peak RSS and lifetime of every
 * descendant they start. Descendants are found through /proc/<pid>/task/<tid>/children.
 */
export class ProcessSampler {
  readonly #roots: number[];
  readonly #started = performance.now();
  readonly #children = new Map<number, SampledChild>();
  readonly #timer: NodeJS.Timeout;
  #rootPeakKb = 0;

  constructor(roots: number[], intervalMs = 50) {
    this.#roots = roots;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  /** Milliseconds since the sampler started. */
  now(): number {
    return performance.now() - this.#started;
  }

  /** Whether a descendant named `comm` was seen and has not been seen in the latest sample. */
  hasFinished(comm: string): boolean {
    const seen = [...this.#children.values()].filter((c) => c.comm === comm);
    return seen.length > 0 && seen.every((c) => statusKb(c.pid, 'VmHWM') === null);
  }

  #sample(): void {
    const at = this.now();
    const queue: number[] = [];
    for (const root of this.#roots) {
      this.#rootPeakKb = Math.max(this.#rootPeakKb, statusKb(root, 'VmRSS') ?? 0);
      queue.push(...childrenOf(root));
    }
    while (queue.length > 0) {
      const pid = queue.pop() as number;
      const hwm = statusKb(pid, 'VmHWM');
      if (hwm === null) continue;
      const known = this.#children.get(pid);
      if (known) {
        known.peakKb = Math.max(known.peakKb, hwm);
        known.lastSeenMs = at;
      } else {
        this.#children.set(pid, { pid, comm: commandName(pid), peakKb: hwm, firstSeenMs: at, lastSeenMs: at });
      }
      queue.push(...childrenOf(pid));
    }
  }

  stop(): SamplerReport {
    clearInterval(this.#timer);
    this.#sample();
    return { rootSampledPeakKb: this.#rootPeakKb, children: [...this.#children.values()] };
  }
}
