import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { loadOpenApiDocument } from '../../src/http/contract.js';
import { PROJECT_ROOT } from '../../src/paths.js';

const run = promisify(execFile);

/**
 * A stand-in for tsc in the mini project: it "compiles" src/*.ts by copying each to dist/src/*.js, and
 * fails like tsc on a type error (a source that says "not a number"). The script under test only runs tsc
 * and reads its exit status; the real tsc cost ~15 s of CPU per build here.
 */
const FAKE_TSC = `
const { mkdirSync, readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const root = dirname(process.argv[process.argv.indexOf('-p') + 1]);
const sources = readdirSync(join(root, 'src')).filter((name) => name.endsWith('.ts'));
for (const name of sources) {
  const text = readFileSync(join(root, 'src', name), 'utf8');
  if (text.includes('not a number')) {
    process.stdout.write(name + ': error TS2322: Type string is not assignable to type number.\\n');
    process.exit(2);
  }
  mkdirSync(join(root, 'dist', 'src'), { recursive: true });
  writeFileSync(join(root, 'dist', 'src', name.replace(/\\.ts$/, '.js')), text);
}
`;

/** A project with the real build script, the real yaml parser and the stand-in tsc. */
function miniProject(dir: string): { build: () => Promise<string> } {
  for (const sub of ['scripts', 'src', 'openapi', 'node_modules/typescript/bin'])
    mkdirSync(join(dir, sub), { recursive: true });
  cpSync(join(PROJECT_ROOT, 'scripts', 'build-if-stale.mjs'), join(dir, 'scripts', 'build-if-stale.mjs'));
  symlinkSync(join(PROJECT_ROOT, 'node_modules', 'yaml'), join(dir, 'node_modules', 'yaml'));
  writeFileSync(join(dir, 'node_modules', 'typescript', 'package.json'), '{"type":"commonjs"}');
  writeFileSync(join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), FAKE_TSC);
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'tsconfig.json'), '{}');
  writeFileSync(join(dir, 'tsconfig.build.json'), '{}');
  writeFileSync(join(dir, 'src', 'server.ts'), 'export const answer: number = 1;\n');
  writeFileSync(join(dir, 'src', 'gone.ts'), 'export const gone = true;\n');
  writeFileSync(join(dir, 'openapi', 'openapi.yaml'), 'openapi: 3.1.0\ninfo: {title: t, version: "1"}\npaths: {}\n');
  return {
    build: async () => (await run(process.execPath, [join(dir, 'scripts', 'build-if-stale.mjs')], { cwd: dir })).stdout,
  };
}

t.test('npm start builds only when the sources changed, and a rebuild starts from an empty dist/', async (t) => {
  const dir = t.testdir({});
  const project = miniProject(dir);
  const server = join(dir, 'dist', 'src', 'server.js');

  await project.build();
  t.match(readFileSync(server, 'utf8'), /answer: number = 1/);
  t.ok(statSync(join(dir, 'dist', 'src', 'gone.js')).isFile());
  const firstBuild = statSync(server).mtimeMs;

  await project.build();
  t.equal(statSync(server).mtimeMs, firstBuild, 'an unchanged checkout is not rebuilt');

  writeFileSync(join(dir, 'src', 'server.ts'), 'export const answer: number = 2;\n');
  rmSync(join(dir, 'src', 'gone.ts'));
  await project.build();
  t.match(readFileSync(server, 'utf8'), /answer: number = 2/, 'a changed source is rebuilt');
  t.throws(() => statSync(join(dir, 'dist', 'src', 'gone.js')), 'the output of a deleted source is gone');

  const parsed = JSON.parse(readFileSync(join(dir, 'dist', 'openapi.json'), 'utf8'));
  t.equal(parsed.document.info.title, 't', 'the contract is left parsed beside the build');
});

t.test('a build that fails leaves no stamp, so the next start tries again', async (t) => {
  const dir = t.testdir({});
  const project = miniProject(dir);
  writeFileSync(join(dir, 'src', 'server.ts'), 'export const answer: number = "not a number";\n');
  await t.rejects(project.build());
  t.throws(() => statSync(join(dir, 'dist', '.build-inputs.sha256')));
  writeFileSync(join(dir, 'src', 'server.ts'), 'export const answer: number = 3;\n');
  await project.build();
  t.match(readFileSync(join(dir, 'dist', 'src', 'server.js'), 'utf8'), /answer: number = 3/);
});

t.test('the parsed contract is used only while it was made from the same YAML bytes', async (t) => {
  const dir = t.testdir({});
  const yamlPath = join(dir, 'openapi.yaml');
  const parsedPath = join(dir, 'openapi.json');
  const yaml = 'openapi: 3.1.0\ninfo: {title: from-yaml, version: "1"}\npaths: {}\n';
  writeFileSync(yamlPath, yaml);
  const copy = (sourceSha256: string) =>
    writeFileSync(
      parsedPath,
      JSON.stringify({ sourceSha256, document: { openapi: '3.1.0', info: { title: 'from-copy' }, paths: {} } }),
    );

  copy(createHash('sha256').update(yaml).digest('hex'));
  t.equal((loadOpenApiDocument(yamlPath, parsedPath).info as { title: string }).title, 'from-copy');

  copy(createHash('sha256').update('an older contract').digest('hex'));
  t.equal(
    (loadOpenApiDocument(yamlPath, parsedPath).info as { title: string }).title,
    'from-yaml',
    'a stale copy is ignored',
  );

  writeFileSync(parsedPath, '{ not json');
  t.equal(
    (loadOpenApiDocument(yamlPath, parsedPath).info as { title: string }).title,
    'from-yaml',
    'a broken copy is ignored',
  );
  t.equal((loadOpenApiDocument(yamlPath, null).info as { title: string }).title, 'from-yaml');
});
