import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { type BareConnection, runBareDump, runTeeVerifiedDump } from './bare-dump.js';
import type { JobView, PgstewardApi } from './pgsteward-process.js';
import { cpuSeconds, ProcessSampler, resetPeakRss, type SamplerReport, statusKb } from './process-sampler.js';

export type Variant = 'pgsteward' | 'bare' | 'tee';

export interface Measurement {
  variant: Variant;
  run: number;
  /** Wall time: POST to `succeeded` for pgsteward, spawn to exit for the others. */
  ms: number;
  artifactBytes: number;
  /** The backup, when it was kept (for B3) rather than deleted after the run. */
  keptBackupId?: string;
  /** Peak RSS of each child tool, by command name (max over processes of that name), in kB. */
  toolPeakKb: Record<string, number>;
  /** CPU seconds of the child tools (reaped children's user + system time). */
  toolCpuS: number;
  pgsteward?: {
    /** VmHWM of the server process over this backup alone (reset before it started), kB. */
    peakKb: number;
    /** The highest VmRSS seen in the 50 ms samples, kB: a cross-check of peakKb. */
    sampledPeakKb: number;
    /** VmRSS just before the backup, kB. */
    baselineKb: number;
    /** The server's own CPU seconds during the backup. */
    cpuS: number;
    /** POST until pg_dump appeared (queue, claim, secret, connect, catalog, snapshot). */
    setupMs: number;
    /** pg_dump's lifetime as sampled every 50 ms. */
    pgDumpMs: number;
    /** pg_dump gone until `succeeded` seen: verification re-read, fsync, rename, bookkeeping, poll latency. */
    tailMs: number;
  };
}

function toolPeaks(report: SamplerReport, tools: string[]): Record<string, number> {
  const peaks: Record<string, number> = {};
  for (const child of report.children) {
    if (!tools.includes(child.comm)) continue;
    peaks[child.comm] = Math.max(peaks[child.comm] ?? 0, child.peakKb);
  }
  return peaks;
}

const FINISHED = ['succeeded', 'failed', 'cancelled'];
const TOOLS = ['pg_dump', 'pg_restore', 'tee'];

/**
 * One backup through the API: POST, then GET /v1/jobs/{id} every 100 ms, every 10 ms once pg_dump has
 * exited (only the verification and bookkeeping remain), until the job has succeeded. The artifact is
 * deleted through the API afterwards, unless `keepBackup` (B3 restores it).
 */
export async function measureApiBackup(
  api: PgstewardApi,
  token: string,
  targetId: string,
  serverPid: number,
  run: number,
  opts: { keepBackup?: boolean } = {},
): Promise<Measurement> {
  const baselineKb = statusKb(serverPid, 'VmRSS') ?? 0;
  resetPeakRss(serverPid);
  const cpuBefore = cpuSeconds(serverPid);
  const sampler = new ProcessSampler([serverPid]);
  const started = sampler.now();
  const job = await api.expect<JobView>(202, 'POST', `/v1/targets/${targetId}/backups`, token, {
    format: 'custom',
    includeGlobals: false,
  });
  let finished: JobView;
  let endedAt: number;
  for (;;) {
    const seen = await api.expect<JobView>(200, 'GET', `/v1/jobs/${job.id}`, token);
    if (FINISHED.includes(seen.status)) {
      endedAt = sampler.now();
      finished = seen;
      break;
    }
    const closing = sampler.hasFinished('pg_dump') || seen.progress.phase === 'done';
    await new Promise((r) => setTimeout(r, closing ? 10 : 100));
  }
  const report = sampler.stop();
  const peakKb = statusKb(serverPid, 'VmHWM') ?? 0;
  const cpuAfter = cpuSeconds(serverPid);
  if (finished.status !== 'succeeded') {
    throw new Error(`the backup job ended ${finished.status}: ${JSON.stringify(finished.error)}`);
  }
  const backupId = finished.backupId ?? '';
  const backup = await api.expect<{ sizeBytes: number }>(200, 'GET', `/v1/backups/${backupId}`, token);
  if (!opts.keepBackup) await api.expect(200, 'DELETE', `/v1/backups/${backupId}`, token);
  const dump = report.children.find((c) => c.comm === 'pg_dump');
  const dumpStart = dump?.firstSeenMs ?? started;
  const dumpEnd = dump?.lastSeenMs ?? endedAt;
  return {
    variant: 'pgsteward',
    run,
    ms: endedAt - started,
    artifactBytes: backup.sizeBytes,
    ...(opts.keepBackup ? { keptBackupId: backupId } : {}),
    toolPeakKb: toolPeaks(report, TOOLS),
    toolCpuS: cpuAfter.children - cpuBefore.children,
    pgsteward: {
      peakKb,
      sampledPeakKb: report.rootSampledPeakKb,
      baselineKb,
      cpuS: cpuAfter.own - cpuBefore.own,
      setupMs: dumpStart - started,
      pgDumpMs: dumpEnd - dumpStart,
      tailMs: endedAt - dumpEnd,
    },
  };
}

/** One bare run (`pg_dump -Fc -f`, or the tee | pg_restore pipeline); the file is removed unless kept. */
export async function measureBareDump(
  variant: Exclude<Variant, 'pgsteward'>,
  conn: BareConnection,
  file: string,
  run: number,
  opts: { keepFile?: boolean } = {},
): Promise<Measurement> {
  const cpuBefore = cpuSeconds('self');
  const sampler = new ProcessSampler([process.pid]);
  const ms = variant === 'bare' ? await runBareDump(conn, file) : await runTeeVerifiedDump(conn, file);
  const report = sampler.stop();
  const cpuAfter = cpuSeconds('self');
  const artifactBytes = (await stat(file)).size;
  if (!opts.keepFile) await rm(file, { force: true });
  return {
    variant,
    run,
    ms,
    artifactBytes,
    toolPeakKb: toolPeaks(report, TOOLS),
    toolCpuS: cpuAfter.children - cpuBefore.children,
  };
}

/** What ArtifactWriter.commit does to a stored file before the rename: read it all back through sha256. */
export async function timeSha256ReRead(file: string): Promise<number> {
  const started = performance.now();
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  hash.digest('hex');
  return performance.now() - started;
}
