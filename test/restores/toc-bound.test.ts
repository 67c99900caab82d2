import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { listArchive, MAX_TOC_BYTES } from '../../src/domain/restores/restore-tools.js';
import { withToolCredentials } from '../../src/domain/targets/connect.js';
import { dbnameArgument } from '../../src/pgtools/conninfo.js';
import { runPgTool } from '../../src/pgtools/run-tool.js';
import { createTestDatabase } from '../helpers/database.js';

const db = await createTestDatabase(t);
await db.ownerQuery('CREATE TABLE items (id int PRIMARY KEY, label text)');
for (let i = 0; i < 40; i++) await db.ownerQuery(`CREATE TABLE extra_${i} (id int)`);
const dir = mkdtempSync(join(tmpdir(), 'pgsteward-toc-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const archive = join(dir, 'db.dump');
const cluster = db.cluster;
await withToolCredentials(
  { host: 'localhost', port: cluster.port, database: db.name, sslMode: 'verify-full', sslrootcert: cluster.caCert },
  { host: 'localhost', address: '127.0.0.1', family: 4 },
  { username: cluster.superuser, password: cluster.password },
  (tool) =>
    runPgTool({
      path: join(cluster.bindir, 'pg_dump'),
      args: ['-Fc', '-f', archive, dbnameArgument(tool.conninfo)],
      env: tool.env,
    }).done,
);
const pgRestore = { path: join(cluster.bindir, 'pg_restore'), major: 15, version: '15' };

t.test('the table of contents is read whole within the bound', async (t) => {
  const toc = await listArchive(pgRestore, archive, new AbortController().signal);
  t.match(toc, /TABLE public items/);
  t.match(toc, /TABLE public extra_39/);
  t.ok(Buffer.byteLength(toc) < MAX_TOC_BYTES);
});

t.test('past the bound pg_restore is stopped and the restore fails with a clear code', async (t) => {
  const full = await listArchive(pgRestore, archive, new AbortController().signal);
  const bound = Math.floor(Buffer.byteLength(full) / 2);
  await t.rejects(listArchive(pgRestore, archive, new AbortController().signal, bound), {
    code: 'PGS_RESTORE_TOC_TOO_LARGE',
    retryable: false,
    message: /table of contents \(pg_restore --list\) is larger than/,
  });
});
