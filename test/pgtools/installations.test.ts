import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import {
  discoverPgInstallations,
  hasBinary,
  parsePgVersion,
  resolveServerInstallation,
} from '../../src/pgtools/installations.js';

t.test('parsePgVersion reads real --version banners', async (t) => {
  const cases: Array<[string, number, string]> = [
    ['pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n', 15, '15.18'],
    ['postgres (PostgreSQL) 18.1\n', 18, '18.1'],
    ['psql (PostgreSQL) 9.6.24\n', 9, '9.6.24'],
    ['pg_restore (PostgreSQL) 16.4 (Ubuntu 16.4-1.pgdg22.04+1)\n', 16, '16.4'],
    ['postgres (PostgreSQL) 14.13 (Homebrew)\n', 14, '14.13'],
    ['postgres (PostgreSQL) 17devel\n', 17, '17devel'],
    ['initdb (PostgreSQL) 18beta1\n', 18, '18beta1'],
    ['pg_ctl (PostgreSQL) 13.16\n', 13, '13.16'],
  ];
  for (const [banner, major, version] of cases) {
    t.same(parsePgVersion(banner), { major, version }, banner.trim());
  }
});

t.test('parsePgVersion throws on output that is not a PostgreSQL banner', async (t) => {
  for (const garbage of ['', 'bash: pg_dump: command not found', 'mysql  Ver 8.0.36', '(PostgreSQL) x']) {
    t.throws(() => parsePgVersion(garbage), /not a PostgreSQL version banner/, JSON.stringify(garbage));
  }
});

t.test('parsePgVersion never invents a version from text without the PostgreSQL marker', async () => {
  fc.assert(
    fc.property(fc.string(), (text) => {
      fc.pre(!text.includes('(PostgreSQL)'));
      let threw = false;
      try {
        parsePgVersion(text);
      } catch {
        threw = true;
      }
      return threw;
    }),
  );
});

t.test('parsePgVersion returns the major of any well-formed banner', async () => {
  fc.assert(
    fc.property(
      fc.constantFrom('pg_dump', 'psql', 'postgres'),
      fc.integer({ min: 10, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      fc.string(),
      (program, major, minor, suffix) => {
        const parsed = parsePgVersion(`${program} (PostgreSQL) ${major}.${minor} ${suffix}`);
        return parsed.major === major && parsed.version === `${major}.${minor}`;
      },
    ),
  );
});

t.test('discoverPgInstallations finds the installed PostgreSQL 15 with pg_dump', async (t) => {
  const installations = await discoverPgInstallations();
  const v15 = installations.find((inst) => inst.major === 15);
  t.ok(v15, `found major 15 among ${JSON.stringify(installations)}`);
  if (v15 === undefined) return;
  t.ok(hasBinary(v15, 'pg_dump'));
  t.match(v15.version, /^15\.\d+$/);
  const majors = installations.map((inst) => inst.major);
  t.same(
    majors,
    [...majors].sort((a, b) => b - a),
    'newest major first',
  );
  t.equal(new Set(installations.map((inst) => inst.bindir)).size, installations.length, 'no duplicates');
});

t.test('an explicit bindir wins and is not listed twice', async (t) => {
  const found = await resolveServerInstallation();
  const explicit = await discoverPgInstallations({ bindir: found.bindir });
  t.equal(explicit[0]?.bindir, found.bindir);
  t.equal(explicit.filter((inst) => inst.major === found.major).length, 1);
  t.equal((await resolveServerInstallation({ bindir: found.bindir })).bindir, found.bindir);
});

t.test('an explicit bindir that does not exist throws a clear error', async (t) => {
  await t.rejects(discoverPgInstallations({ bindir: '/nonexistent/pg/bin' }), {
    message: /PGSTEWARD_PG_BINDIR=\/nonexistent\/pg\/bin is not a usable PostgreSQL bin directory/,
  });
  await t.rejects(resolveServerInstallation({ bindir: '/nonexistent/pg/bin' }), /PGSTEWARD_PG_BINDIR/);
});

t.test('an explicit bindir without PostgreSQL programs throws a clear error', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'pgsteward-bindir-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  await t.rejects(discoverPgInstallations({ bindir: empty }), { message: /holds none of postgres, pg_dump, psql/ });
});
