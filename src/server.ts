import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { mintToken } from './auth/mint.js';
import { resolveVerificationKey } from './auth/signing-key.js';
import { ConfigError, loadConfig } from './config.js';
import { openMetadataStore } from './db/metadata-store.js';

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
  const store = await openMetadataStore(config, {
    info: (msg) => log.info(msg),
    warn: (msg) => log.warn(msg),
  });
  const verificationKey = await resolveVerificationKey(config);
  const app = await buildApp({ config, pool: store.pool, verificationKey, knownMigrations: store.knownMigrations });
  app.addHook('onClose', async () => store.close());

  closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
  });

  await app.listen({ host: config.host, port: config.port });
  if (verificationKey.generatedSecretPath) printAdminToken(verificationKey.key, config.host, app.server.address());
}

/** Embedded mode: show an operator token and how to mint more, so the first request is one paste away. */
function printAdminToken(secret: string, host: string, address: ReturnType<import('node:net').Server['address']>) {
  const port = typeof address === 'object' && address ? address.port : 8080;
  const token = mintToken({ secret, sub: 'admin', scopes: ['tenants:admin'], ttlSeconds: 24 * 3600 });
  process.stdout.write(
    [
      '',
      `pgsteward is listening on http://${host}:${port}  (API docs: /docs, GraphQL: /graphql)`,
      'An operator token (scope tenants:admin, valid 24h):',
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
