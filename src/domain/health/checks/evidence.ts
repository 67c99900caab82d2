import type { Section } from '../snapshot.js';
import { type CheckOutcome, EVIDENCE_ROWS, unknown } from './types.js';

type Row = Record<string, unknown>;

/** Runs `use` on a section's rows, or answers `unknown` naming what the role could not read. */
export function withRows(section: Section<Row>, use: (rows: Row[]) => CheckOutcome): CheckOutcome {
  return section.ok ? use(section.rows) : unknown(section.missing);
}

/** How many rows matched in all (the queries carry count(*) OVER () as `matched`), not just the top N. */
export const matchedOf = (rows: Row[]): number => Number(rows[0]?.matched ?? rows.length);

/** Evidence rows without the bookkeeping columns, at most EVIDENCE_ROWS of them. */
export const evidenceOf = (rows: Row[]): Row[] =>
  rows.slice(0, EVIDENCE_ROWS).map(({ matched: _m, unreadable: _u, ...rest }) => rest);

/** schema.name as a reader would type it (quoted only where needed) for remediation SQL. */
export function qualified(schema: unknown, name: unknown): string {
  return `${sqlIdent(schema)}.${sqlIdent(name)}`;
}

export const sqlIdent = (name: unknown): string => {
  const s = String(name);
  return /^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
};

/** Query text as evidence: string literals blanked, since one may hold a password (ALTER ROLE ... PASSWORD). */
export const redactQuery = (query: unknown): string | null =>
  typeof query === 'string'
    ? query.replace(/'(?:[^']|'')*'?/g, "'?'").replace(/\$\w*\$[\s\S]*?\$\w*\$/g, () => '$$?$$')
    : null;

export const bytes = (n: number): string => {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};
