/** The arithmetic and Markdown shared by the bench's report sections (B1/B2 in report.ts, B3 in report-restore.ts). */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The median of a/b over the runs both variants completed, paired by run number. */
export function medianPairedRatio<T extends { run: number; ms: number }>(a: T[], b: T[]): number {
  return median(
    a.flatMap((m) => {
      const other = b.find((o) => o.run === m.run);
      return other ? [m.ms / other.ms] : [];
    }),
  );
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const s = (millis: number) => (millis / 1000).toFixed(2);
export const mib = (kb: number) => (kb / 1024).toFixed(1);
export const mb = (bytes: number) => (bytes / 1048576).toFixed(0);
export const x = (ratio: number) => ratio.toFixed(3);
export const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');
