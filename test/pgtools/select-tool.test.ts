import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import t from 'tap';
import { isPgStewardError } from '../../src/errors.js';
import { discoverPgInstallations, type PgInstallation } from '../../src/pgtools/installations.js';
import { runPgTool } from '../../src/pgtools/run-tool.js';
import { type ClientTool, selectClientTool } from '../../src/pgtools/select-tool.js';

/** Bindirs holding empty files named like the tools: enough for hasBinary, which is all selection reads. */
async function syntheticInstallations(
  t: { teardown(fn: () => unknown): void },
  specs: Array<{ major: number; tools: ClientTool[]; label?: string }>,
): Promise<PgInstallation[]> {
  const root = await mkdtemp(join(tmpdir(), 'pgsteward-select-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return Promise.all(
    specs.map(async ({ major, tools, label }, index) => {
      const bindir = join(root, `${label ?? major}-${index}`, 'bin');
      await mkdir(bindir, { recursive: true });
      for (const tool of tools) await writeFile(join(bindir, tool), '');
      return { major, version: `${major}.1`, bindir };
    }),
  );
}

const ALL: ClientTool[] = ['pg_dump', 'pg_restore', 'psql', 'pg_dumpall'];

async function refusal(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isPgStewardError(err) ? { code: err.code, message: err.message } : err;
}

t.test('the smallest installed major at or above the server major wins', async (t) => {
  const installs = await syntheticInstallations(t, [
    { major: 17, tools: ALL },
    { major: 16, tools: ALL },
    { major: 14, tools: ALL },
  ]);
  const pick = async (serverMajor: number) => (await selectClientTool('pg_dump', serverMajor, installs)).major;
  t.equal(await pick(14), 14, 'exact match');
  t.equal(await pick(15), 16, 'closest newer');
  t.equal(await pick(16), 16);
  t.equal(await pick(17), 17);
  t.equal(await pick(9), 14, 'old servers get the oldest installed tool that can read them');
  const chosen = await selectClientTool('psql', 16, installs);
  t.same(chosen, { path: join(installs[1]?.bindir ?? '', 'psql'), major: 16, version: '16.1' });
});

t.test('installations without the tool are skipped', async (t) => {
  const installs = await syntheticInstallations(t, [
    { major: 17, tools: ['pg_dump', 'pg_restore'] },
    { major: 16, tools: ['psql'] },
  ]);
  t.equal((await selectClientTool('pg_dump', 16, installs)).major, 17);
  t.equal((await selectClientTool('psql', 16, installs)).major, 16);
  t.same(await refusal(selectClientTool('pg_dumpall', 15, installs)), {
    code: 'PGS_TOOL_VERSION',
    message: 'No pg_dumpall for PostgreSQL 15 or newer is installed.',
  });
});

t.test('within one major the earlier installation (PGSTEWARD_PG_BINDIR first) wins', async (t) => {
  const installs = await syntheticInstallations(t, [
    { major: 16, tools: ALL, label: 'explicit' },
    { major: 16, tools: ALL, label: 'discovered' },
  ]);
  t.match((await selectClientTool('pg_restore', 16, installs)).path, /explicit-0\/bin\/pg_restore$/);
});

t.test('a server newer than every tool is refused naming the newest installed major', async (t) => {
  const installs = await syntheticInstallations(t, [
    { major: 15, tools: ALL },
    { major: 16, tools: ALL },
  ]);
  t.same(await refusal(selectClientTool('pg_dump', 17, installs)), {
    code: 'PGS_TOOL_VERSION',
    message: 'The newest installed pg_dump is 16; PostgreSQL 17 needs pg_dump 17 or newer.',
  });
  t.same(await refusal(selectClientTool('pg_restore', 15, [])), {
    code: 'PGS_TOOL_VERSION',
    message: 'No pg_restore for PostgreSQL 15 or newer is installed.',
  });
});

t.test('real discovery finds a pg_dump for this machine whose --version agrees', async (t) => {
  const installs = await discoverPgInstallations();
  const newest = installs[0];
  if (newest === undefined) throw new Error('no PostgreSQL installation on this machine');
  const chosen = await selectClientTool('pg_dump', newest.major);
  t.equal(chosen.major, newest.major);
  const run = runPgTool({ path: chosen.path, args: ['--version'], env: {}, stdout: 'pipe' });
  const [banner] = await Promise.all([text(run.stdout as Readable), run.done]);
  t.match(banner, new RegExp(`^pg_dump \\(PostgreSQL\\) ${chosen.version.replaceAll('.', '\\.')}\\b`));
});
