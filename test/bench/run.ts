// `npm run bench`: pgsteward's backup through the API against bare pg_dump (B1), pgsteward's memory (B2),
// a restore through the API against bare createdb + pg_restore -j2 (B3), and a health report against
// its bare catalog queries (B4, health-b4.ts; BENCH_B4=0 skips it).
// Never part of `npm test` (tap only runs *.test.ts). Knobs: BENCH_SIZE_MB (comma-separated sizes,
// default "100,1024"), BENCH_RUNS (runs of each variant per size, default 3), BENCH_SERVER (built|tsx),
// BENCH_DOC (where the results go, default docs/BENCHMARKS.md; "none" to only print), BENCH_B3=0 (skip
// B3), BENCH_B1E=0 (skip B1e, backups with encryption at rest), BENCH_ONLY=b1e (B1e alone; B1-B3's
// numbers in the doc are left as they were), BENCH_STARTUP=0 (skip `npm start` to ready, startup.ts),
// BENCH_ONLY=startup (that alone), BENCH_KEEP=1. BENCH_ONLY takes a comma list (e.g. b1e,b5).
// B5 (b5-api.ts, the API under load) runs last unless BENCH_B5=0; BENCH_ONLY=b5 runs it alone.
// BENCH_ONLY=b3: B3 alone, after one pgsteward backup and one bare dump to restore (no tee, B1e or B4);
// it prints B3 and leaves the doc as it was.
// B6 (b6-engine.ts, the job engine vs graphile-worker; its own knobs are there) runs after B5 unless
// BENCH_B6=0; BENCH_ONLY=b6 runs it alone.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { mintToken } from '../../src/auth/mint.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { quoteIdent } from '../../src/sql/identifiers.js';
import { startTestCluster, type TestCluster } from '../helpers/pg-cluster.js';
import { startTcpForwarder } from '../helpers/tcp-forward.js';
import { type B1eResult, measureB1e, renderB1e, writeB1eDoc } from './b1e.js';
import type { BareConnection } from './bare-dump.js';
import { describeMachine } from './machine.js';
import { type Measurement, measureApiBackup, measureBareDump, timeSha256ReRead, type Variant } from './measure.js';
import { measureRestores, type RestoreResult } from './measure-restore.js';
import {
  buildServer,
  PgstewardApi,
  type PgstewardProcess,
  type ServerMode,
  startPgsteward,
} from './pgsteward-process.js';
import { statusKb } from './process-sampler.js';
import { type BenchResult, renderResults, type SizeResult, writeDoc } from './report.js';
import { renderRestoreSections } from './report-restore.js';
import { createSourceDatabase, timeRowCounts } from './source-data.js';

const env = process.env;
const sizes = (env.BENCH_SIZE_MB ?? '100,1024').split(',').map((v) => Number(v.trim()));
const runs = Number(env.BENCH_RUNS ?? 3);
const serverMode = (env.BENCH_SERVER ?? 'built') as ServerMode;
const only = env.BENCH_ONLY ? env.BENCH_ONLY.split(',').map((v) => v.trim()) : null;
const onlyB1e = only?.includes('b1e') ?? false;
const skipB1toB4 = only !== null; // BENCH_ONLY names benchmarks to run alone: B1-B4 only run without it
const onlyB3 = only?.includes('b3') ?? false;
const withRestore = env.BENCH_B3 !== '0' && !onlyB1e;
const withB1e = env.BENCH_B1E !== '0' && (!onlyB3 || onlyB1e);
const docPath = env.BENCH_DOC === 'none' ? null : (env.BENCH_DOC ?? join(PROJECT_ROOT, 'docs', 'BENCHMARKS.md'));
if (sizes.some((v) => !Number.isInteger(v) || v < 1) || !Number.isInteger(runs) || runs < 1) {
  throw new Error('BENCH_SIZE_MB must list whole MiB sizes (e.g. 100,1024) and BENCH_RUNS must be a whole number');
}
if (serverMode !== 'built' && serverMode !== 'tsx') throw new Error('BENCH_SERVER must be built or tsx');

const log = (line: string) => process.stderr.write(`${line}\n`);
const JWT_SECRET = randomBytes(32).toString('base64url');
const TENANT = 'bench';
const VARIANTS: Variant[] = ['pgsteward', 'bare', 'tee'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/**
 * Room for the database, its WAL, a kept bare dump and an artifact in flight, with a margin; with B3,
 * also the kept backup, pgsteward's private copy of it, and one restored database with its WAL.
 */
function checkDiskSpace(dir: string): void {
  const fs = statfsSync(dir);
  const freeMiB = (fs.bavail * fs.bsize) / 1048576;
  const neededMiB = Math.max(...sizes) * (withRestore ? 7 : 4) + 2048;
  if (freeMiB < neededMiB) throw new Error(`${dir} has ${freeMiB.toFixed(0)} MiB free; the bench needs ${neededMiB}`);
  log(`disk: ${freeMiB.toFixed(0)} MiB free in ${dir}, ${neededMiB} MiB needed at most`);
}

const passfileField = (value: string | number) => String(value).replace(/[\\:]/g, (c) => `\\${c}`);

async function benchSize(
  cluster: TestCluster,
  work: string,
  sizeMb: number,
): Promise<{ size: SizeResult; b1e: B1eResult | undefined }> {
  log(`\n== ${sizeMb} MiB: generating the source database`);
  const source = await createSourceDatabase(cluster, sizeMb, log);
  log(`generated ${(source.sizeBytes / 1048576).toFixed(0)} MiB in ${(source.generationMs / 1000).toFixed(1)} s`);
  const dir = join(work, `${sizeMb}mb`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const meta = `meta_${sizeMb}mb`;
  const admin = new pg.Client(cluster.clientConfig());
  await admin.connect();
  await admin.query(`CREATE DATABASE ${quoteIdent(meta)}`);
  await admin.end();

  const secret = { username: source.role, password: source.password, host: '127.0.0.1', port: cluster.port };
  writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ [`${TENANT}/main`]: { ...secret, dbname: source.name } }), {
    mode: 0o600,
  });
  const passfile = join(dir, 'pgpass');
  const passLine = ['127.0.0.1', cluster.port, source.name, source.role, source.password].map(passfileField);
  // The second line covers B3's fresh databases (the first matching line wins, so B1 uses the first).
  const anyDbLine = ['127.0.0.1', cluster.port, '*', source.role, source.password].map(passfileField);
  writeFileSync(passfile, `${passLine.join(':')}\n${anyDbLine.join(':')}\n`, { mode: 0o600 });
  const conninfoOf = (dbname: string) =>
    `host=127.0.0.1 port=${cluster.port} dbname=${dbname} user=${source.role} sslmode=require`;
  const bare: BareConnection = { bindir: cluster.bindir, conninfo: conninfoOf(source.name), conninfoOf, passfile };

  let server: PgstewardProcess | undefined;
  let metadataPort: Awaited<ReturnType<typeof startTcpForwarder>> | undefined;
  try {
    const port = await freePort();
    // pgsteward refuses targets at its metadata store's address: the metadata goes through another port.
    metadataPort = await startTcpForwarder(cluster.port);
    const superuserUrl = `postgresql://${cluster.superuser}:${encodeURIComponent(cluster.password)}@127.0.0.1:${metadataPort.port}`;
    server = await startPgsteward(serverMode, {
      DATABASE_URL: `${superuserUrl}/${meta}?sslmode=require`,
      PGSTEWARD_JWT_SECRET: JWT_SECRET,
      PGSTEWARD_DATA_DIR: join(dir, 'data'),
      PGSTEWARD_SECRETS_FILE: join(dir, 'secrets.json'),
      PGSTEWARD_TARGET_ALLOWLIST: '127.0.0.0/8',
      PGSTEWARD_STORAGE_URL: pathToFileURL(join(dir, 'artifacts')).href,
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
    });
    const startupPeakKb = statusKb(server.pid, 'VmHWM') ?? 0;
    const api = new PgstewardApi(server.baseUrl);
    const admin = mintToken({ secret: JWT_SECRET, sub: 'bench-operator', scopes: ['tenants:admin'], ttlSeconds: 7200 });
    const tokenFor = (tenant: string) =>
      mintToken({
        secret: JWT_SECRET,
        sub: 'bench',
        tenant,
        scopes: ['targets:read', 'targets:write', 'backups:read', 'backups:write', 'jobs:read', 'restores:write'],
        ttlSeconds: 7200,
      });
    const token = tokenFor(TENANT);
    await api.expect(201, 'POST', '/v1/tenants', admin, { id: TENANT, name: 'Benchmark' });
    const target = await api.expect<{ id: string }>(201, 'POST', '/v1/targets', token, {
      name: 'source',
      secretRef: `file:${TENANT}/main`,
      sslMode: 'require',
    });
    const check = await api.expect<{ ok: boolean }>(200, 'POST', `/v1/targets/${target.id}/check`, token);
    if (!check.ok) throw new Error(`the target check failed: ${JSON.stringify(check)}`);
    const idleKb = statusKb(server.pid, 'VmRSS') ?? 0;
    const rowCountMs = await timeRowCounts(cluster, source.name);

    const measurements: Measurement[] = [];
    const fileOf = (variant: Variant) => join(dir, `${variant}.dump`);
    let keptBackupId: string | undefined;
    const b1Runs = onlyB3 ? 1 : onlyB1e ? 0 : runs;
    for (let run = 0; run < b1Runs; run++) {
      // Rotated, so each variant runs first, second and third equally often: no order bias.
      const rotated = [...VARIANTS.slice(run % 3), ...VARIANTS.slice(0, run % 3)];
      const order: Variant[] = onlyB3 ? ['pgsteward', 'bare'] : rotated;
      for (const variant of order) {
        const keepFile = variant === 'bare' && run === b1Runs - 1;
        const keepBackup = withRestore && variant === 'pgsteward' && run === b1Runs - 1;
        const m =
          variant === 'pgsteward'
            ? await measureApiBackup(api, token, target.id, server.pid, run, { keepBackup })
            : await measureBareDump(variant, bare, fileOf(variant), run, { keepFile });
        measurements.push(m);
        keptBackupId ??= m.keptBackupId;
        log(
          `run ${run + 1}/${runs} ${variant.padEnd(9)} ${(m.ms / 1000).toFixed(2)} s, ` +
            `${(m.artifactBytes / 1048576).toFixed(0)} MiB` +
            (m.pgsteward ? `, pgsteward peak RSS ${(m.pgsteward.peakKb / 1024).toFixed(1)} MiB` : ''),
        );
      }
    }
    const bareFile = fileOf('bare');
    const reReadBytes = onlyB1e ? 0 : statSync(bareFile).size;
    const sha256ReReadMs = onlyB1e ? 0 : await timeSha256ReRead(bareFile);
    let restore: RestoreResult | undefined;
    if (keptBackupId !== undefined) {
      log(`\n== ${sizeMb} MiB: B3, restores`);
      restore = await measureRestores({
        cluster,
        api,
        token,
        serverPid: server.pid,
        backupId: keptBackupId,
        bareFile,
        bare,
        role: source.role,
        sizeMb,
        expectedRows: source.rows,
        runs,
        log,
      });
      await api.expect(200, 'DELETE', `/v1/backups/${keptBackupId}`, token);
    }
    rmSync(bareFile, { force: true });
    let b1e: B1eResult | undefined;
    if (withB1e) {
      log(`\n== ${sizeMb} MiB: B1e, backups with encryption at rest`);
      const measured = await measureB1e({
        api,
        adminToken: admin,
        token,
        tokenFor,
        tenant: TENANT,
        targetId: target.id,
        serverPid: server.pid,
        secretsFile: join(dir, 'secrets.json'),
        bare,
        bareFile,
        runs,
        log,
      });
      b1e = { sizeMb, sourceBytes: source.sizeBytes, ...measured };
    }
    const size: SizeResult = {
      sizeMb,
      sourceBytes: source.sizeBytes,
      rows: source.rows,
      generationMs: source.generationMs,
      rowCountMs,
      sha256ReReadMs,
      reReadBytes,
      server: { startupPeakKb, idleKb },
      measurements,
      ...(restore ? { restore } : {}),
    };
    return { size, b1e };
  } catch (err) {
    if (server) log(`pgsteward output:\n${server.output()}`);
    throw err;
  } finally {
    await server?.stop();
    await metadataPort?.close();
    await source.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'pgsteward-bench-'));
  checkDiskSpace(work);
  if (serverMode === 'built') {
    log('building (npm run build)...');
    await buildServer();
  }
  log('starting a PostgreSQL cluster for the bench...');
  const cluster = await startTestCluster({ settings: { max_wal_size: '4GB' } });
  const stopAll = async () => {
    await cluster.stop({ keepData: env.BENCH_KEEP === '1' });
    if (env.BENCH_KEEP !== '1') rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    void stopAll().finally(() => process.exit(130));
  });
  try {
    const machine = await describeMachine(cluster.bindir);
    const results: SizeResult[] = [];
    const b1eResults: B1eResult[] = [];
    for (const sizeMb of sizes) {
      const { size, b1e } = await benchSize(cluster, work, sizeMb);
      results.push(size);
      if (b1e) b1eResults.push(b1e);
    }
    if (b1eResults.length > 0) {
      const header =
        `Last run finished ${new Date().toISOString()} (\`npm run bench\`, BENCH_SIZE_MB=${sizes.join(',')} ` +
        `BENCH_RUNS=${runs}${onlyB1e ? ' BENCH_ONLY=b1e' : ''}). The tenant's key is a \`file:\` secret; ` +
        'the artifact is encrypted in 1 MiB AES-256-GCM chunks as it streams (docs/encryption.md).';
      const text = renderB1e(b1eResults, header);
      process.stdout.write(`\n${text}\n`);
      if (docPath) writeB1eDoc(docPath, text);
    }
    if (onlyB3) process.stdout.write(`\n${renderRestoreSections(results).join('\n')}\n`);
    if (onlyB1e || onlyB3) return;
    const result: BenchResult = {
      machine,
      command: 'npm run bench',
      knobs: `BENCH_SIZE_MB=${sizes.join(',')} BENCH_RUNS=${runs}${withRestore ? '' : ' BENCH_B3=0'}`,
      runs,
      serverMode: serverMode === 'built' ? 'node dist/src/server.js (built)' : 'node --import tsx src/server.ts',
      finishedAt: new Date().toISOString(),
      totalMs: Date.now() - started,
      sizes: results,
    };
    const rendered = renderResults(result);
    process.stdout.write(`\n${rendered}\n`);
    if (docPath) {
      writeDoc(docPath, rendered);
      log(`\nwrote ${docPath}`);
    }
  } finally {
    await stopAll();
  }
}

if (!skipB1toB4 || onlyB1e || onlyB3) await main();
// B4 (health reports) runs on a cluster of its own; see health-b4.ts.
if (env.BENCH_B4 !== '0' && !skipB1toB4) await import('./health-b4.js').then((b4) => b4.main());
// Start-up: `npm start` to ready on a built checkout (startup.ts); its own embedded metadata database.
if (env.BENCH_STARTUP !== '0' && (only === null || only.includes('startup'))) {
  await buildServer();
  const startup = await import('./startup.js');
  const result = await startup.measureStartup(Math.max(runs, 5), await freePort(), log);
  process.stdout.write(`\n${startup.renderStartup(result)}\n`);
  if (docPath) startup.writeStartupDoc(docPath, result);
}
// B5 (the API under load), on a cluster of its own; its build step is a no-op on a fresh dist/.
if (only === null ? env.BENCH_B5 !== '0' : only.includes('b5')) {
  await import('./b5-api.js').then((b5) => b5.main());
}
// B6 (the job engine vs graphile-worker), on a cluster of its own; see b6-engine.ts.
if (only === null ? env.BENCH_B6 !== '0' : only.includes('b6')) {
  await import('./b6-engine.js').then((b6) => b6.main());
}
