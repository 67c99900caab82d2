import type { RestoreMeasurement, RestoreResult, RestoreVariant } from './measure-restore.js';
import { mb, median, medianPairedRatio, mib, s, table, verdict, x } from './report-format.js';

/** The goal for B3: the restore through the API within 3 % of bare createdb + pg_restore -j2. */
export const RESTORE_GOAL_RATIO = 1.03;

interface SizeWithRestore {
  sizeMb: number;
  sourceBytes: number;
  restore?: RestoreResult;
}

const of = (r: RestoreResult, variant: RestoreVariant) => r.measurements.filter((m) => m.variant === variant);
const med = (list: RestoreMeasurement[], pick: (m: RestoreMeasurement) => number) => median(list.map(pick));

function wallTimeTable(sizes: [SizeWithRestore, RestoreResult][]): string {
  const rows = sizes.map(([size, r]) => {
    const api = of(r, 'pgsteward');
    const bare = of(r, 'bare');
    const ratio = med(api, (m) => m.ms) / med(bare, (m) => m.ms);
    return [
      `${size.sizeMb} MiB (${mb(size.sourceBytes)} MiB on disk)`,
      `${mb(r.archiveBytes.pgsteward)} / ${mb(r.archiveBytes.bare)}`,
      s(med(api, (m) => m.ms)),
      s(med(bare, (m) => m.ms)),
      `**${x(ratio)}**`,
      x(medianPairedRatio(api, bare)),
      verdict(ratio <= RESTORE_GOAL_RATIO),
    ];
  });
  return table(
    [
      'database',
      'archive restored: pgsteward / bare (MiB)',
      'pgsteward median (s)',
      'bare createdb + pg_restore median (s)',
      'ratio pgsteward / bare',
      'median of paired ratios',
      `goal ≤ ${RESTORE_GOAL_RATIO}`,
    ],
    rows,
  );
}

function phaseTable(sizes: [SizeWithRestore, RestoreResult][]): string {
  const rows = sizes.map(([size, r]) => {
    const api = of(r, 'pgsteward');
    const bare = of(r, 'bare');
    const cpu = (list: RestoreMeasurement[]) => med(list, (m) => m.toolCpuS).toFixed(1);
    const restorePeak = (list: RestoreMeasurement[]) =>
      mib(Math.max(0, ...list.map((m) => m.toolPeakKb.pg_restore ?? 0)));
    return [
      `${size.sizeMb} MiB`,
      s(med(api, (m) => m.pgsteward?.setupMs ?? 0)),
      s(med(api, (m) => m.pgsteward?.pgRestoreMs ?? 0)),
      s(med(api, (m) => m.pgsteward?.tailMs ?? 0)),
      `${s(med(bare, (m) => m.bare?.createdbMs ?? 0))} / ${s(med(bare, (m) => m.bare?.pgRestoreMs ?? 0))}`,
      `${mib(Math.max(0, ...api.map((m) => m.pgsteward?.peakKb ?? 0)))} / ${mib(med(api, (m) => m.pgsteward?.baselineKb ?? 0))}`,
      med(api, (m) => m.pgsteward?.cpuS ?? 0).toFixed(1),
      `${cpu(api)} / ${cpu(bare)}`,
      `${restorePeak(api)} / ${restorePeak(bare)}`,
    ];
  });
  return table(
    [
      'database',
      'POST → pg_restore starts (s)',
      'pg_restore lifetime in pgsteward (s)',
      'pg_restore exits → succeeded (s)',
      'bare: createdb / pg_restore (s)',
      'pgsteward peak RSS, max over runs / RSS before, median (MiB)',
      'pgsteward process CPU (s)',
      'child tools CPU (s): pgsteward / bare',
      'pg_restore peak: pgsteward / bare (MiB)',
    ],
    rows,
  );
}

function runsTable(sizes: [SizeWithRestore, RestoreResult][]): string {
  const rows = sizes.flatMap(([size, r]) =>
    r.measurements.map((m) => [
      `${size.sizeMb} MiB`,
      String(m.run + 1),
      m.variant,
      s(m.ms),
      m.pgsteward
        ? `setup ${s(m.pgsteward.setupMs)} / pg_restore ${s(m.pgsteward.pgRestoreMs)} / tail ${s(m.pgsteward.tailMs)}`
        : `createdb ${s(m.bare?.createdbMs ?? 0)} / pg_restore ${s(m.bare?.pgRestoreMs ?? 0)}`,
      m.pgsteward ? mib(m.pgsteward.peakKb) : '',
      m.toolCpuS.toFixed(1),
    ]),
  );
  return table(
    [
      'database',
      'run',
      'variant (in the order run)',
      'wall (s)',
      'phases (s)',
      'pgsteward peak RSS (MiB)',
      'child tools CPU (s)',
    ],
    rows,
  );
}

/** B3's sections of the report, or nothing when B3 was skipped (BENCH_B3=0). */
export function renderRestoreSections(sizes: SizeWithRestore[]): string[] {
  const measured = sizes.flatMap((z): [SizeWithRestore, RestoreResult][] => (z.restore ? [[z, z.restore]] : []));
  if (measured.length === 0) return [];
  return [
    '### B3: wall time, restore through the API vs bare `pg_restore -j2`',
    '',
    'The pgsteward variant restores the custom backup kept from B1 (`POST /v1/backups/{id}/restores`, ' +
      '`parallel: 2`, until the job has succeeded); the bare one runs `createdb` and then ' +
      '`pg_restore --exit-on-error -j 2` of the bare `pg_dump -Fc` file kept from B1. Alternating, each into ' +
      'a fresh database, dropped (and the cluster checkpointed) after each run, outside the timed section.',
    '',
    wallTimeTable(measured),
    '',
    '### Where the restore’s time goes (medians)',
    '',
    phaseTable(measured),
    '',
    '### B3: every run',
    '',
    runsTable(measured),
    '',
  ];
}
