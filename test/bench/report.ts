import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from './machine.js';
import type { Measurement, Variant } from './measure.js';
import type { RestoreResult } from './measure-restore.js';
import { mb, median, medianPairedRatio, mib, s, table, verdict, x } from './report-format.js';
import { renderRestoreSections } from './report-restore.js';

export interface SizeResult {
  sizeMb: number;
  sourceBytes: number;
  rows: { customers: number; events: number };
  generationMs: number;
  /** count(*) of every table in one snapshot, alone (pgsteward runs this beside the dump). */
  rowCountMs: number;
  /** sha256 over a dump-sized file read back from disk, alone (pgsteward does this before committing). */
  sha256ReReadMs: number;
  reReadBytes: number;
  server: { startupPeakKb: number; idleKb: number };
  measurements: Measurement[];
  /** B3, unless skipped (BENCH_B3=0). */
  restore?: RestoreResult;
}

export interface BenchResult {
  machine: Machine;
  command: string;
  knobs: string;
  runs: number;
  serverMode: string;
  finishedAt: string;
  totalMs: number;
  sizes: SizeResult[];
}

export const GOALS = { ratio: 1.03, peakMiB: 150, growthMiB: 10 };
export const RESULTS_START = '<!-- bench:results:start (written by npm run bench; edits inside are lost) -->';
export const RESULTS_END = '<!-- bench:results:end -->';

const of = (size: SizeResult, variant: Variant) => size.measurements.filter((m) => m.variant === variant);
const ms = (list: Measurement[]) => list.map((m) => m.ms);

export interface SizeSummary {
  size: SizeResult;
  medians: Record<Variant, number>;
  ratio: number;
  pairedRatio: number;
  teeRatio: number;
  overTee: number;
  serverPeakKb: number;
  serverPeakMedianKb: number;
}

export function summarize(size: SizeResult): SizeSummary {
  const api = of(size, 'pgsteward');
  const bare = of(size, 'bare');
  const medians = { pgsteward: median(ms(api)), bare: median(ms(bare)), tee: median(ms(of(size, 'tee'))) };
  const peaks = api.map((m) => m.pgsteward?.peakKb ?? 0);
  return {
    size,
    medians,
    ratio: medians.pgsteward / medians.bare,
    pairedRatio: medianPairedRatio(api, bare),
    teeRatio: medians.tee / medians.bare,
    overTee: medians.pgsteward / medians.tee,
    serverPeakKb: Math.max(...peaks),
    serverPeakMedianKb: median(peaks),
  };
}

function wallTimeSection(summaries: SizeSummary[]): string {
  const rows = summaries.map((m) => [
    `${m.size.sizeMb} MiB (${mb(m.size.sourceBytes)} MiB on disk)`,
    s(m.medians.pgsteward),
    s(m.medians.bare),
    `**${x(m.ratio)}**`,
    x(m.pairedRatio),
    s(m.medians.tee),
    x(m.teeRatio),
    x(m.overTee),
    verdict(m.ratio <= GOALS.ratio),
  ]);
  return table(
    [
      'database',
      'pgsteward median (s)',
      'bare pg_dump median (s)',
      'ratio pgsteward / bare',
      'median of paired ratios',
      'tee + pg_restore median (s)',
      'tee / bare',
      'pgsteward / tee',
      `goal ≤ ${GOALS.ratio}`,
    ],
    rows,
  );
}

function phaseSection(summaries: SizeSummary[]): string {
  const rows = summaries.map((m) => {
    const api = of(m.size, 'pgsteward');
    const med = (pick: (x: Measurement) => number) => median(api.map(pick));
    const toolCpu = (v: Variant) => median(of(m.size, v).map((x) => x.toolCpuS)).toFixed(1);
    return [
      `${m.size.sizeMb} MiB`,
      s(med((a) => a.pgsteward?.setupMs ?? 0)),
      s(med((a) => a.pgsteward?.pgDumpMs ?? 0)),
      s(med((a) => a.pgsteward?.tailMs ?? 0)),
      s(m.size.sha256ReReadMs),
      s(m.size.rowCountMs),
      med((a) => a.pgsteward?.cpuS ?? 0).toFixed(1),
      `${toolCpu('pgsteward')} / ${toolCpu('bare')} / ${toolCpu('tee')}`,
    ];
  });
  return table(
    [
      'database',
      'POST → pg_dump starts (s)',
      'pg_dump lifetime in pgsteward (s)',
      'pg_dump exits → succeeded (s)',
      'sha256 re-read of a dump-sized file, alone (s)',
      'row counts, alone (s)',
      'pgsteward process CPU (s)',
      'child tools CPU (s): pgsteward / bare / tee',
    ],
    rows,
  );
}

function memorySection(summaries: SizeSummary[]): { text: string; ok: boolean } {
  const rows = summaries.map((m) => {
    const api = of(m.size, 'pgsteward');
    const toolPeak = (v: Variant, tool: string) =>
      mib(Math.max(0, ...of(m.size, v).map((x) => x.toolPeakKb[tool] ?? 0)));
    return [
      `${m.size.sizeMb} MiB`,
      `**${mib(m.serverPeakKb)}**`,
      mib(m.serverPeakMedianKb),
      mib(Math.max(...api.map((a) => a.pgsteward?.sampledPeakKb ?? 0))),
      mib(median(api.map((a) => a.pgsteward?.baselineKb ?? 0))),
      mib(m.size.server.startupPeakKb),
      `${toolPeak('pgsteward', 'pg_dump')} / ${toolPeak('bare', 'pg_dump')}`,
      toolPeak('pgsteward', 'pg_restore'),
    ];
  });
  const sorted = [...summaries].sort((a, b) => a.size.sizeMb - b.size.sizeMb);
  const smallest = sorted[0];
  const largest = sorted[sorted.length - 1];
  const peakMiB = Math.max(...summaries.map((m) => m.serverPeakKb)) / 1024;
  const growthMiB =
    smallest && largest && smallest !== largest ? (largest.serverPeakKb - smallest.serverPeakKb) / 1024 : Number.NaN;
  const lines = [
    table(
      [
        'database',
        'pgsteward peak RSS, max over runs (MiB)',
        'median over runs (MiB)',
        'highest 50 ms VmRSS sample (MiB)',
        'RSS before the backup (MiB)',
        'peak during start-up (MiB)',
        'pg_dump peak: in pgsteward / bare (MiB)',
        'pg_restore peak (MiB)',
      ],
      rows,
    ),
    '',
    `- Peak: ${peakMiB.toFixed(1)} MiB; goal ≤ ${GOALS.peakMiB} MiB: ${verdict(peakMiB <= GOALS.peakMiB)}.`,
  ];
  if (!Number.isNaN(growthMiB)) {
    lines.push(
      `- Growth from ${smallest?.size.sizeMb} MiB to ${largest?.size.sizeMb} MiB: ${growthMiB.toFixed(1)} MiB; ` +
        `goal ≤ ${GOALS.growthMiB} MiB: ${verdict(growthMiB <= GOALS.growthMiB)}.`,
    );
  }
  return { text: lines.join('\n'), ok: peakMiB <= GOALS.peakMiB && !(growthMiB > GOALS.growthMiB) };
}

function runsSection(sizes: SizeResult[]): string {
  const rows = sizes.flatMap((size) =>
    [...size.measurements]
      .sort((a, b) => a.run - b.run)
      .map((m) => [
        `${size.sizeMb} MiB`,
        String(m.run + 1),
        m.variant,
        s(m.ms),
        mb(m.artifactBytes),
        m.pgsteward ? mib(m.pgsteward.peakKb) : '',
        m.pgsteward ? `${s(m.pgsteward.setupMs)} / ${s(m.pgsteward.pgDumpMs)} / ${s(m.pgsteward.tailMs)}` : '',
        m.toolCpuS.toFixed(1),
      ]),
  );
  return table(
    [
      'database',
      'run',
      'variant (in the order run)',
      'wall (s)',
      'artifact (MiB)',
      'pgsteward peak RSS (MiB)',
      'setup / pg_dump / tail (s)',
      'child tools CPU (s)',
    ],
    rows,
  );
}

/** The generated part of docs/BENCHMARKS.md (also what the bench prints). */
export function renderResults(result: BenchResult): string {
  const summaries = result.sizes.map(summarize);
  const m = result.machine;
  const memory = memorySection(summaries);
  const generation = result.sizes
    .map(
      (z) =>
        `${z.sizeMb} MiB: ${s(z.generationMs)} s (${z.rows.events.toLocaleString('en')} events, ` +
        `${z.rows.customers.toLocaleString('en')} customers, ${mb(z.sourceBytes)} MiB on disk)`,
    )
    .join('; ');
  return [
    `Last run finished ${result.finishedAt}, took ${(result.totalMs / 60000).toFixed(1)} min.`,
    '',
    `- Command: \`${result.command}\` (${result.knobs}); server: ${result.serverMode}.`,
    `- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; node ${m.node}; ` +
      `${m.postgres}; ${m.pgDump}; commit ${m.commit}.`,
    `- Data generation: ${generation}.`,
    '',
    '### B1: wall time, pgsteward backup through the API vs bare `pg_dump -Fc -f`',
    '',
    wallTimeSection(summaries),
    '',
    '### Where pgsteward’s time goes (medians)',
    '',
    phaseSection(summaries),
    '',
    '### B2: peak RSS of the pgsteward process',
    '',
    memory.text,
    '',
    ...renderRestoreSections(result.sizes),
    '### B1 and B2: every run',
    '',
    runsSection(result.sizes),
  ].join('\n');
}

const DOC_HEADER = `# Benchmarks

Run with \`npm run bench\`. The section between the markers below is rewritten by each run.

`;

/** Replaces the generated section of the doc, keeping everything around it. */
export function writeDoc(path: string, results: string): void {
  const block = `${RESULTS_START}\n${results}\n${RESULTS_END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : DOC_HEADER;
  const start = current.indexOf(RESULTS_START);
  const end = current.indexOf(RESULTS_END);
  const next =
    start !== -1 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + RESULTS_END.length)}`
      : `${current.trimEnd()}\n\n## Results\n\n${block}\n`;
  writeFileSync(path, next);
}
