#!/usr/bin/env node
// `npm start`, `npm run worker` and `npm run token` run this first: it compiles src/ into dist/ only when
// the sources changed since the last build, so an unchanged checkout starts without running tsc (tsc takes
// ~10 s here, and `tsc --incremental` still ~7 s of CPU to find nothing changed). The stamp is a sha256
// over every input of the build (src/**/*.ts, the tsconfigs, package-lock.json, the OpenAPI contract),
// read in ~30 ms. The build also leaves the contract parsed into dist/openapi.json, keyed by the YAML's
// own sha256 (src/http/contract.ts): parsing the YAML at start-up took ~0.5 s of CPU.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const stampPath = join(root, 'dist', '.build-inputs.sha256');
const entry = join(root, 'dist', 'src', 'server.js');
const contractPath = join(root, 'openapi', 'openapi.yaml');

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

function inputsDigest() {
  const files = [...sourceFiles(join(root, 'src'))];
  for (const name of ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'openapi/openapi.yaml']) {
    if (existsSync(join(root, name))) files.push(join(root, name));
  }
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    hash.update(`${relative(root, file)}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const digest = inputsDigest();
const built = existsSync(stampPath) && existsSync(entry) ? readFileSync(stampPath, 'utf8').trim() : '';
if (built === digest && process.argv[2] !== '--force') process.exit(0);

// A clean build: output of a source file since deleted must not linger and be loaded.
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  process.stderr.write('pgsteward: the build failed (tsc above); nothing was started\n');
  process.exit(result.status ?? 1);
}
// The Docker image's build stage has no openapi/: the service then parses the YAML as it starts.
if (existsSync(contractPath)) {
  const text = readFileSync(contractPath);
  const sourceSha256 = createHash('sha256').update(text).digest('hex');
  writeFileSync(join(root, 'dist', 'openapi.json'), JSON.stringify({ sourceSha256, document: parse(text.toString()) }));
}
writeFileSync(stampPath, `${digest}\n`);
