import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import { PROJECT_ROOT } from '../../src/paths.js';

const SRC = join(PROJECT_ROOT, 'src');

/** Every relative module a file under `dir` imports (static, type-only, re-export or dynamic), as src paths. */
function importsUnder(dir: string): { file: string; target: string }[] {
  const files = readdirSync(join(SRC, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return files.flatMap((f) => {
    const path = join(SRC, dir, f);
    const text = readFileSync(path, 'utf8');
    const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
    return specifiers.map((s) => ({
      file: relative(SRC, path),
      target: relative(SRC, resolve(dirname(path), s as string)),
    }));
  });
}

const inside = (target: string, dir: string) => target === dir || target.startsWith(`${dir}/`);

t.test('graphql/ imports nothing from http/: what both transports share lives in api/', async (t) => {
  const found = importsUnder('graphql');
  t.ok(
    found.some((i) => inside(i.target, 'api')),
    'the scan sees graphql/ importing api/',
  );
  t.same(
    found.filter((i) => inside(i.target, 'http')),
    [],
  );
});

t.test('the domain and the shared request layer import no transport', async (t) => {
  for (const dir of ['domain', 'api']) {
    const found = importsUnder(dir);
    t.ok(found.length > 0, `the scan sees ${dir}/ imports`);
    t.same(
      found.filter((i) => ['http', 'graphql', ...(dir === 'domain' ? ['api'] : [])].some((d) => inside(i.target, d))),
      [],
      `${dir}/ stays below the transports`,
    );
  }
});

t.test('the job engine and the leader import no capability and name none', async (t) => {
  // The capabilities the runtime registers: each has a capability.ts (targets, tenants and audit are the
  // ground every job stands on, and the engine may know of tenants and targets).
  const capabilities = readdirSync(join(SRC, 'domain'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && readdirSync(join(SRC, 'domain', e.name)).includes('capability.ts'))
    .map((e) => e.name);
  t.ok(capabilities.includes('backups'), 'the scan sees the capability folders');
  for (const dir of ['jobs', 'schedules']) {
    const found = importsUnder(dir);
    t.same(
      found.filter((i) => inside(i.target, 'domain')),
      [],
      `${dir}/ imports nothing from domain/`,
    );
    // Singular and plural: "backup_id" in a query is as much a capability's name as "backups".
    const names = capabilities.flatMap((c) => [c, c.replace(/s$/, '')]).filter((n) => n.length > 3);
    const files = readdirSync(join(SRC, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const mentions = files.flatMap((f) => {
      // Code and SQL only: a comment may give a capability as an example of what plugs in.
      const text = readFileSync(join(SRC, dir, f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '')
        .toLowerCase();
      return names.filter((n) => text.includes(n)).map((n) => `${dir}/${f}: ${n}`);
    });
    t.same(mentions, [], `${dir}/ names no capability`);
  }
});
