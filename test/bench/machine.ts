import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/paths.js';

const execFileAsync = promisify(execFile);

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  pgDump: string;
  commit: string;
}

async function firstLine(program: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(program, args, { cwd });
    return stdout.split('\n')[0]?.trim() ?? '';
  } catch {
    return 'unknown';
  }
}

/** What the numbers were measured on: they mean little without it. */
export async function describeMachine(bindir: string): Promise<Machine> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const dirty = await firstLine('git', ['status', '--porcelain', '--untracked-files=no'], PROJECT_ROOT);
  const head = await firstLine('git', ['rev-parse', '--short', 'HEAD'], PROJECT_ROOT);
  return {
    cpus: cpus().length,
    cpuModel: model,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    postgres: await firstLine(join(bindir, 'postgres'), ['--version']),
    pgDump: await firstLine(join(bindir, 'pg_dump'), ['--version']),
    commit: dirty === '' ? head : `${head} (with uncommitted changes)`,
  };
}
