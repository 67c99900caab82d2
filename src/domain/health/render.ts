import type { CheckResult } from './checks/types.js';
import { type HealthReport, worstFirst } from './report.js';

// The report for people rather than programs: chatops text and one self-contained HTML page. Both show
// only what the JSON does (table names, counts, settings), escaped for their medium.

export const TEXT_MAX_LINES = 15;
const TEXT_SUMMARY_CHARS = 200;

const headline = (report: HealthReport, targetName: string) => {
  const c = report.counts;
  return `${targetName}: ${report.status.toUpperCase()} (${c.fail} fail, ${c.warn} warn, ${c.unknown} unknown, ${c.pass} pass)${report.finishedAt ? ` at ${report.finishedAt}` : ''}`;
};

const oneLine = (s: string, max: number) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** At most 15 lines: the target and the counts, then every check that is not a pass, worst first. */
export function renderText(report: HealthReport, targetName: string): string {
  const lines = [headline(report, targetName)];
  if (report.error) lines.push(`error ${report.error.code}: ${oneLine(report.error.message, TEXT_SUMMARY_CHARS)}`);
  const notPassing = worstFirst(report.checks).filter((c) => c.status !== 'pass');
  const room = TEXT_MAX_LINES - lines.length;
  const shown = notPassing.length > room ? notPassing.slice(0, room - 1) : notPassing;
  for (const c of shown) lines.push(`${c.status.toUpperCase()} ${c.id}: ${oneLine(c.summary, TEXT_SUMMARY_CHARS)}`);
  if (shown.length < notPassing.length) lines.push(`… and ${notPassing.length - shown.length} more not passing`);
  if (notPassing.length === 0 && report.checks.length > 0) lines.push(`All ${report.checks.length} checks pass.`);
  return `${lines.join('\n')}\n`;
}

const escapeHtml = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export interface DeadTuplePoint {
  at: string;
  tables: { table: string; deadTuples: number }[];
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd'];

/** A line per table (the five with the most dead tuples in the newest report), one point per report. */
export function deadTupleChart(series: DeadTuplePoint[]): string {
  const W = 640;
  const H = 220;
  const PAD = 40;
  const newest = series[series.length - 1];
  const tables = (newest?.tables ?? [])
    .slice()
    .sort((a, b) => b.deadTuples - a.deadTuples)
    .slice(0, COLORS.length)
    .map((t) => t.table);
  if (series.length === 0 || tables.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="40" role="img" aria-label="no dead tuples recorded"><text x="0" y="25" font-size="14">No dead tuples recorded in this target's reports.</text></svg>`;
  }
  const max = Math.max(
    1,
    ...series.flatMap((p) => p.tables.filter((t) => tables.includes(t.table)).map((t) => t.deadTuples)),
  );
  const x = (i: number) => PAD + (series.length === 1 ? (W - 2 * PAD) / 2 : (i * (W - 2 * PAD)) / (series.length - 1));
  const y = (v: number) => H - PAD + 10 - (v / max) * (H - 2 * PAD);
  const lines = tables.map((table, k) => {
    const points = series
      .map((p, i) => {
        const v = p.tables.find((t) => t.table === table)?.deadTuples;
        return v === undefined ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      })
      .filter((p): p is string => p !== null);
    const color = COLORS[k];
    const dots = points.map(
      (pt) => `<circle cx="${pt.split(',')[0]}" cy="${pt.split(',')[1]}" r="3" fill="${color}"/>`,
    );
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>${dots.join('')}`;
  });
  const legend = tables.map(
    (table, k) =>
      `<text x="${PAD + 8}" y="${16 + k * 14}" font-size="11" fill="${COLORS[k]}">${escapeHtml(table)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" role="img" aria-label="dead tuples of the top tables across reports">`,
    `<line x1="${PAD}" y1="${H - PAD + 10}" x2="${W - PAD}" y2="${H - PAD + 10}" stroke="#888"/>`,
    `<line x1="${PAD}" y1="${PAD - 20}" x2="${PAD}" y2="${H - PAD + 10}" stroke="#888"/>`,
    `<text x="2" y="${PAD - 22}" font-size="10">${max}</text><text x="2" y="${H - PAD + 10}" font-size="10">0</text>`,
    `<text x="${PAD}" y="${H + 12}" font-size="10">${escapeHtml(series[0]?.at)}</text>`,
    `<text x="${W - PAD}" y="${H + 12}" font-size="10" text-anchor="end">${escapeHtml(newest?.at)}</text>`,
    ...lines,
    ...legend,
    '</svg>',
  ].join('');
}

const checkRow = (c: CheckResult) =>
  `<tr class="${c.status}"><td>${escapeHtml(c.status.toUpperCase())}</td><td><code>${escapeHtml(c.id)}</code></td><td>${escapeHtml(c.summary)}${
    c.remediation ? `<pre>${escapeHtml(c.remediation)}</pre>` : ''
  }${c.docsUrl ? `<div class="docs">${escapeHtml(c.docsUrl)}</div>` : ''}</td></tr>`;

/** One page, no external assets (no scripts, styles or images from elsewhere): summary, problems, chart. */
export function renderHtml(report: HealthReport, targetName: string, series: DeadTuplePoint[]): string {
  const problems = worstFirst(report.checks).filter((c) => c.status !== 'pass');
  const passing = report.checks.filter((c) => c.status === 'pass');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`Health of ${targetName}`)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse;width:100%}td{border-top:1px solid #ddd;padding:.4em;vertical-align:top}
pre{background:#f5f5f5;padding:.5em;white-space:pre-wrap}.docs{font-size:.8em;color:#666}
tr.fail td:first-child{color:#b00020;font-weight:bold}tr.warn td:first-child{color:#b36b00;font-weight:bold}
tr.unknown td:first-child{color:#555;font-weight:bold}
</style></head><body>
<h1>${escapeHtml(headline(report, targetName))}</h1>
<p>Report ${escapeHtml(report.id)}${report.server ? `, ${escapeHtml(report.server.version)}` : ''}.</p>
${report.error ? `<p><strong>${escapeHtml(report.error.code)}</strong>: ${escapeHtml(report.error.message)}</p>` : ''}
<h2>Checks needing attention (${problems.length})</h2>
${problems.length ? `<table>${problems.map(checkRow).join('\n')}</table>` : '<p>None: every check passes.</p>'}
<h2>Dead tuples across reports</h2>
${deadTupleChart(series)}
<h2>Passing (${passing.length})</h2>
<p>${passing.map((c) => `<code>${escapeHtml(c.id)}</code>`).join(', ')}</p>
</body></html>
`;
}
