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
