// B1e: B1 with encryption at rest on: pgsteward's backup through the API, its tenant given a file:
// key-encryption key, against bare `pg_dump -Fc -f`, alternating (each variant first equally often). A third
// variant, the same backup by a tenant without a key, in the same rotation, tells what encryption itself
// costs apart from what any pgsteward backup costs on the machine of the day.
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
  /** Encrypted pgsteward backups (variant 'pgsteward') and bare pg_dump runs. */
  measurements: Measurement[];
  /** Unencrypted pgsteward backups of the same database, by a tenant without a key, in the same rotation. */
  plain: Measurement[];
}

type B1eVariant = 'encrypted' | 'bare' | 'plain';
const ROTATION: B1eVariant[] = ['encrypted', 'bare', 'plain'];

/** A tenant without a key-encryption key, with its own target on the same source database. */
async function plainTenant(o: {
  api: PgstewardApi;
  adminToken: string;
  tenant: string;
  tokenFor: (tenant: string) => string;
}): Promise<{ token: string; targetId: string }> {
  const tenant = `${o.tenant}-plain`;
  await o.api.expect(201, 'POST', '/v1/tenants', o.adminToken, { id: tenant, name: 'Benchmark, unencrypted' });
  const token = o.tokenFor(tenant);
  const target = await o.api.expect<{ id: string }>(201, 'POST', '/v1/targets', token, {
    name: 'source',
    secretRef: `file:${tenant}/main`,
    sslMode: 'require',
  });
  return { token, targetId: target.id };
}

/**
 * Give the tenant a key-encryption key (a new file: secret), then run the three variants `runs` times
 * each, rotated. Run after B1 and B3: from here on the tenant's backups are encrypted.
 */
export async function measureB1e(o: {
  api: PgstewardApi;
  adminToken: string;
  token: string;
  /** A token with the bench token's scopes for another tenant. */
  tokenFor: (tenant: string) => string;
  tenant: string;
  targetId: string;
  serverPid: number;
  secretsFile: string;
  bare: BareConnection;
  bareFile: string;
  runs: number;
  log: (line: string) => void;
}): Promise<Pick<B1eResult, 'measurements' | 'plain'>> {
  const secrets = JSON.parse(readFileSync(o.secretsFile, 'utf8')) as Record<string, unknown>;
  secrets[`${o.tenant}/kek`] = { key: randomBytes(32).toString('base64') };
  secrets[`${o.tenant}-plain/main`] = secrets[`${o.tenant}/main`];
  writeFileSync(o.secretsFile, JSON.stringify(secrets), { mode: 0o600 });
  const plainSide = await plainTenant(o);
  await o.api.expect(200, 'PUT', `/v1/tenants/${o.tenant}/encryption`, o.adminToken, {
    keyRef: `file:${o.tenant}/kek`,
  });
  const measurements: Measurement[] = [];
  const plain: Measurement[] = [];
  for (let run = 0; run < o.runs; run++) {
    const order = [...ROTATION.slice(run % 3), ...ROTATION.slice(0, run % 3)];
    for (const variant of order) {
      let m: Measurement;
      if (variant === 'encrypted') {
        m = await measureApiBackup(o.api, o.token, o.targetId, o.serverPid, run);
        measurements.push(m);
      } else if (variant === 'plain') {
        m = await measureApiBackup(o.api, plainSide.token, plainSide.targetId, o.serverPid, run);
        plain.push(m);
      } else {
        m = await measureBareDump('bare', o.bare, o.bareFile, run);
        measurements.push(m);
      }
      const cpu = m.pgsteward ? `, pgsteward CPU ${m.pgsteward.cpuS.toFixed(2)} s` : '';
      o.log(`B1e run ${run + 1}/${o.runs} ${variant} ${s(m.ms)} s${cpu}`);
    }
  }
  return { measurements, plain };
}

const cpuOf = (ms: Measurement[]) => median(ms.map((m) => (m.pgsteward?.cpuS ?? 0) * 1000));

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
      s(cpuOf(enc)),
      verdict(ratio <= B1E_GOAL),
    ];
  });
  // What encryption itself costs: the same backup by a tenant without a key, in the same rotation.
  const apart = results.map((r) => {
    const enc = r.measurements.filter((m) => m.variant === 'pgsteward');
    const bare = r.measurements.filter((m) => m.variant === 'bare');
    return [
      `${r.sizeMb} MiB`,
      s(median(r.plain.map((m) => m.ms))),
      x(median(r.plain.map((m) => m.ms)) / median(bare.map((m) => m.ms))),
      x(median(enc.map((m) => m.ms)) / median(r.plain.map((m) => m.ms))),
      `${s(cpuOf(enc))} / ${s(cpuOf(r.plain))}`,
      `${mib(Math.max(...enc.map((m) => m.pgsteward?.peakKb ?? 0)))} / ${mib(Math.max(...r.plain.map((m) => m.pgsteward?.peakKb ?? 0)))}`,
    ];
  });
  const variantName = (m: Measurement, plain: boolean) =>
    plain ? 'pgsteward, unencrypted' : m.variant === 'pgsteward' ? 'pgsteward, encrypted' : 'bare';
  const every = results.flatMap((r) =>
    [...r.measurements.map((m) => ({ m, plain: false })), ...r.plain.map((m) => ({ m, plain: true }))]
      .sort((a, b) => a.m.run - b.m.run)
      .map(({ m, plain }) => [
        `${r.sizeMb} MiB`,
        String(m.run + 1),
        variantName(m, plain),
        s(m.ms),
        (m.artifactBytes / 1048576).toFixed(0),
        m.pgsteward ? m.pgsteward.cpuS.toFixed(2) : '',
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
    table(
      [
        'database',
        'pgsteward unencrypted median (s)',
        'unencrypted / bare',
        'encrypted / unencrypted',
        'pgsteward process CPU (s): encrypted / unencrypted',
        'pgsteward peak RSS (MiB): encrypted / unencrypted',
      ],
      apart,
    ),
    '',
    table(['database', 'run', 'variant', 'wall (s)', 'artifact (MiB)', 'pgsteward CPU (s)'], every),
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
