import closeWithGrace from 'close-with-grace';
import { type Logger, pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { openMetadataStore } from './db/metadata-store.js';
import type { WorkerLog } from './jobs/worker.js';

/**
 * The rest of the service, loaded while the metadata store starts: its PostgreSQL is a child process, so
 * compiling these modules (~1.2 s of CPU: fastify, mercurius, ajv, the AWS SDK) overlaps its start-up
 * instead of preceding it. Measured on the 2-core development machine: ready 0.6 s sooner.
 */
const loadService = () =>
  Promise.all([
    import('./app.js'),
    import('./auth/mint.js'),
    import('./auth/signing-key.js'),
    import('./domain/services.js'),
    import('./jobs-runtime.js'),
    import('./observability/job-metrics.js'),
    import('./observability/metrics.js'),
    import('./pgtools/passfile.js'),
  ]).then(([app, mint, signingKey, services, runtime, jobMetrics, metrics, passfile]) => ({
    buildApp: app.buildApp,
    mintToken: mint.mintToken,
    resolveVerificationKey: signingKey.resolveVerificationKey,
    createServices: services.createServices,
    createJobWorker: runtime.createJobWorker,
    createLeader: runtime.createLeader,
    registerJobMetrics: jobMetrics.registerJobMetrics,
    createMetricsRegistry: metrics.createMetricsRegistry,
    sweepOrphanedToolDirs: passfile.sweepOrphanedToolDirs,
  }));

/** Process entry: load config, open the metadata store, build the app, listen, close with grace. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pgsteward: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { name: 'pgsteward' } });
  const opening = openMetadataStore(config, {
    info: (msg) => log.info(msg),
    warn: (msg) => log.warn(msg),
  });
  const loading = loadService();
  // Both settle before either failure is reported, so a failed start never leaves the other half running.
  const [opened, loaded] = await Promise.allSettled([opening, loading]);
  if (opened.status === 'rejected') throw opened.reason;
  const store = opened.value;
  if (loaded.status === 'rejected') {
    await store.close();
    throw loaded.reason;
  }
  const {
    buildApp,
    mintToken,
    resolveVerificationKey,
    createServices,
    createJobWorker,
    createLeader,
    registerJobMetrics,
    createMetricsRegistry,
    sweepOrphanedToolDirs,
  } = loaded.value;
  // Credentials directories a killed predecessor could not remove (a passfile must not outlive its job).
  const swept = await sweepOrphanedToolDirs();
  if (swept.length > 0) log.warn({ count: swept.length }, 'removed tool directories left by a dead process');
  const services = createServices(config, {}, { log: (fields, msg) => log.warn(fields, msg) });
  const metrics = createMetricsRegistry();
  const jobEvents = registerJobMetrics(metrics, { pool: store.pool });
  const worker =
    config.jobs.workers > 0
      ? createJobWorker({
          config,
          pool: store.pool,
          enginePool: store.enginePool,
          listen: store.settings,
          services,
          log: workerLog(log),
          events: jobEvents,
        })
      : undefined;
  await worker?.start();
  // Periodic work (drill schedules, kept-database expiry) runs where jobs run, once across replicas.
  const leader = worker
    ? createLeader({ config, pool: store.pool, settings: store.settings, services, log: workerLog(log) })
    : undefined;
  leader?.start();

  if (process.argv[2] === 'worker') {
    // `pgsteward worker`: the job engine alone, no HTTP.
    if (!worker) throw new Error('PGSTEWARD_WORKERS is 0: a worker process with no workers has nothing to do');
    log.info({ workers: config.jobs.workers }, 'pgsteward worker started');
    closeWithGrace({ delay: 60_000 }, async ({ signal, err }) => {
      if (err) log.error({ err }, 'shutting down after an error');
      else log.info({ signal }, 'shutting down');
      await leader?.stop();
      await worker.stop();
      await store.close();
    });
    return;
  }

  const verificationKey = await resolveVerificationKey(config);
  const app = await buildApp({
    config,
    pool: store.pool,
    services,
    listen: store.settings,
    verificationKey,
    knownMigrations: store.knownMigrations,
    metrics,
  });
  // Order matters: running jobs are stopped and released before the database goes away.
  app.addHook('onClose', async () => {
    await leader?.stop();
    await worker?.stop();
    await store.close();
  });

  closeWithGrace({ delay: 60_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
  });

  await app.listen({ host: config.host, port: config.port });
  if (verificationKey.generatedSecretPath) {
    printAdminToken(mintToken, verificationKey.key, config, app.server.address());
  }
}

function workerLog(log: Logger): WorkerLog {
  return {
    info: (obj, msg) => log.info(obj, msg),
    warn: (obj, msg) => log.warn(obj, msg),
    error: (obj, msg) => log.error(obj, msg),
  };
}

/** Embedded mode: show an operator token and how to mint more, so the first request is one paste away. */
function printAdminToken(
  mintToken: typeof import('./auth/mint.js').mintToken,
  secret: string,
  config: ReturnType<typeof loadConfig>,
  address: ReturnType<import('node:net').Server['address']>,
) {
  const port = typeof address === 'object' && address ? address.port : 8080;
  // The token must pass this server's own checks: its issuer, audience and lifetime cap.
  const ttlSeconds = Math.min(24 * 3600, config.jwt.maxTtlSeconds ?? 24 * 3600);
  const token = mintToken({
    secret,
    sub: 'admin',
    scopes: ['tenants:admin'],
    ttlSeconds,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  const host = config.host;
  process.stdout.write(
    [
      '',
      `pgsteward is listening on http://${host}:${port}  (API docs: /docs, GraphQL: /graphql)`,
      `An operator token (scope tenants:admin, valid ${ttlSeconds % 3600 === 0 ? `${ttlSeconds / 3600}h` : `${ttlSeconds}s`}):`,
      '',
      `  export PGSTEWARD_TOKEN=${token}`,
      '',
      'Mint tenant tokens with:',
      '  npm run token -- --tenant acme --scope "backups:write jobs:read"',
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`pgsteward: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
