// B1e: B1 with encryption at rest on: pgsteward's backup through the API, its tenant given a file:
// key-encryption key, against bare `pg_dump -Fc -f`, alternating (each variant first equally often).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { BareConnection } from './bare-dump.js';
import { type Measurement, measureApiBackup, measureBareDump } from './measure.js';
import type { PgstewardApi } from './pgsteward-process.js';
import { median, medianPairedRatio, mib, s, table, verdict, x } from './report-format.js';

export const B1E_GOAL = 1.02;

export interface B1eResult {
  sizeMb: number;
  sourceBytes: number;
  measurements: Measurement[];
}

/**
 * Give the tenant a key-encryption key (a new file: secret), then run the two variants `runs` times each.
 * Run after B1 and B3: from here on the tenant's backups are encrypted.
 */
export async function measureB1e(o: {
  api: PgstewardApi;
  adminToken: string;
  token: string;
  tenant: string;
  targetId: string;
  serverPid: number;
  secretsFile: string;
  bare: BareConnection;
  bareFile: string;
  runs: number;
  log: (line: string) => void;
}): Promise<Measurement[]> {
  const secrets = JSON.parse(readFileSync(o.secretsFile, 'utf8')) as Record<string, unknown>;
  secrets[`${o.tenant}/kek`] = { key: randomBytes(32).toString('base64') };
  writeFileSync(o.secretsFile, JSON.stringify(secrets), { mode: 0o600 });
  await o.api.expect(200, 'PUT', `/v1/tenants/${o.tenant}/encryption`, o.adminToken, {
    keyRef: `file:${o.tenant}/kek`,
  });
  const out: Measurement[] = [];
  for (let run = 0; run < o.runs; run++) {
    const order = run % 2 === 0 ? (['pgsteward', 'bare'] as const) : (['bare', 'pgsteward'] as const);
    for (const variant of order) {
      const m =
        variant === 'pgsteward'
          ? await measureApiBackup(o.api, o.token, o.targetId, o.serverPid, run)
          : await measureBareDump('bare', o.bare, o.bareFile, run);
      out.push(m);
      o.log(`B1e run ${run + 1}/${o.runs} ${variant === 'pgsteward' ? 'encrypted' : 'bare'} ${s(m.ms)} s`);
    }
  }
  return out;
}

export function renderB1e(results: B1eResult[], header: string): string {
  const rows = results.map((r) => {
    const enc = r.measurements.filter((m) => m.variant === 'pgsteward');
    const bare = r.measurements.filter((m) => m.variant === 'bare');
    const ratio = median(enc.map((m) => m.ms)) / median(bare.map((m) => m.ms));
    return [
      `${r.sizeMb} MiB (${(r.sourceBytes / 1048576).toFixed(0)} MiB on disk)`,
      s(median(enc.map((m) => m.ms))),
      s(median(bare.map((m) => m.ms))),
      `**${x(ratio)}**`,
      x(medianPairedRatio(enc, bare)),
      mib(Math.max(...enc.map((m) => m.pgsteward?.peakKb ?? 0))),
      s(median(enc.map((m) => (m.pgsteward?.cpuS ?? 0) * 1000))),
      verdict(ratio <= B1E_GOAL),
    ];
  });
  const every = results.flatMap((r) =>
    r.measurements.map((m) => [
      `${r.sizeMb} MiB`,
      String(m.run + 1),
      m.variant === 'pgsteward' ? 'pgsteward, encrypted' : 'bare',
      s(m.ms),
      (m.artifactBytes / 1048576).toFixed(0),
    ]),
  );
  return [
    header,
    '',
    table(
      [
        'database',
        'pgsteward encrypted median (s)',
        'bare pg_dump median (s)',
        'ratio',
        'median of paired ratios',
        'pgsteward peak RSS (MiB)',
        'pgsteward process CPU (s)',
        `goal ≤ ${B1E_GOAL}`,
      ],
      rows,
    ),
    '',
    table(['database', 'run', 'variant', 'wall (s)', 'artifact (MiB)'], every),
  ].join('\n');
}

const B1E_START = '<!-- bench:b1e:start (written by npm run bench; edits inside are lost) -->';
const B1E_END = '<!-- bench:b1e:end -->';

/** B1e has its own block, so a run of B1e alone leaves B1 to B3's numbers as they were. */
export function writeB1eDoc(path: string, text: string): void {
  const block = `${B1E_START}\n${text}\n${B1E_END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const start = current.indexOf(B1E_START);
  const end = current.indexOf(B1E_END);
  const next =
    start !== -1 && end > start
      ? `${current.slice(0, start)}${block}${current.slice(end + B1E_END.length)}`
      : `${current.trimEnd()}\n\n## B1e: backup with encryption at rest vs bare \`pg_dump -Fc -f\`\n\n${block}\n`;
  writeFileSync(path, next);
}
