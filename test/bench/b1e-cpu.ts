// B1e's CPU apart from pg_dump, the server and the API: the storage write path alone, in this process,
// fed like pg_dump -Fc output reaches it (incompressible 64 KiB chunks, at most 16 in flight, as
// src/pgtools/tool-output.ts delivers them), into file storage, unencrypted and through
// EncryptingStorage, alternating; then the encrypting pass's pieces one by one. CPU seconds (user +
// system) of this process, so a busy machine inflates them less than wall time.
// `node --import tsx test/bench/b1e-cpu.ts`; knobs: B1E_CPU_MB (default 1024), B1E_CPU_RUNS (default 3),
// B1E_CPU_DIR (default the OS temp dir). Not part of `npm run bench`: it prints to stderr only.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArtifactStorage } from '../../src/domain/backups/storage/artifact-storage.js';
import { createFileArtifactStorage } from '../../src/domain/backups/storage/file-storage.js';
import { EncryptingStorage } from '../../src/domain/encryption/encrypting-storage.js';
import { DEFAULT_CHUNK_BYTES } from '../../src/domain/encryption/envelope.js';
import { median } from './report-format.js';

const totalBytes = Number(process.env.B1E_CPU_MB ?? 1024) * 1024 * 1024;
const runs = Number(process.env.B1E_CPU_RUNS ?? 3);
const SLAB = 64 * 1024;
const IN_FLIGHT = 16;
const slabs = Array.from({ length: IN_FLIGHT }, () => randomBytes(SLAB));
const log = (line: string) => process.stderr.write(`${line}\n`);
const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;

interface Cpu {
  userS: number;
  systemS: number;
}

async function cpuOf(work: () => Promise<void> | void): Promise<Cpu> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return { userS: used.user / 1e6, systemS: used.system / 1e6 };
}

/** Writes totalBytes through a writer the way the dump pump does, then commits (re-read included). */
async function writeThrough(storage: ArtifactStorage, key: string): Promise<void> {
  const writer = await storage.createWriter(key);
  const sink = writer.stream;
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let inFlight = 0;
    let next = 0;
    const pump = () => {
      while (inFlight < IN_FLIGHT && sent < totalBytes) {
        inFlight++;
        sent += SLAB;
        sink.write(slabs[next++ % IN_FLIGHT], (err) => {
          inFlight--;
          if (err) reject(err);
          else setImmediate(pump);
        });
      }
      if (sent >= totalBytes && !sink.writableEnded) sink.end();
    };
    sink.once('finish', resolve);
    sink.once('error', reject);
    pump();
  });
  await writer.commit();
  await storage.delete(key);
}

/** One pass of the encrypting transform's work without streams: copy, sha256, AES-256-GCM per record. */
function pieces(o: { hash: boolean; gcm: boolean }): void {
  const record = Buffer.allocUnsafe(DEFAULT_CHUNK_BYTES);
  const hash = createHash('sha256');
  const key = randomBytes(32);
  let filled = 0;
  const seal = () => {
    if (!o.gcm) return;
    const cipher = createCipheriv('aes-256-gcm', key, randomBytes(12));
    cipher.setAAD(Buffer.alloc(29));
    cipher.update(record.subarray(0, filled));
    cipher.final();
    cipher.getAuthTag();
  };
  for (let n = 0, i = 0; n < totalBytes; n += SLAB, i++) {
    const slab = slabs[i % IN_FLIGHT] as Buffer;
    if (o.hash) hash.update(slab);
    if (filled === record.length) {
      seal();
      filled = 0;
    }
    filled += slab.copy(record, filled);
  }
  seal();
  hash.digest();
}

const fmt = (c: Cpu) => `${(c.userS + c.systemS).toFixed(2)} (user ${c.userS.toFixed(2)}, sys ${c.systemS.toFixed(2)})`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(process.env.B1E_CPU_DIR ?? tmpdir(), 'pgsteward-b1e-cpu-'));
  try {
    const files = createFileArtifactStorage(dir);
    log(`${totalBytes / 1048576} MiB per pass, ${runs} runs; ${load()}`);
    const plain: number[] = [];
    const encrypted: number[] = [];
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? ['plain', 'encrypted'] : ['encrypted', 'plain'];
      for (const variant of order) {
        const storage = variant === 'plain' ? files : new EncryptingStorage(files, randomBytes(32));
        const cpu = await cpuOf(() => writeThrough(storage, `b1e-cpu/${run}-${variant}`));
        (variant === 'plain' ? plain : encrypted).push(cpu.userS + cpu.systemS);
        log(`run ${run + 1} ${variant.padEnd(9)} write + commit CPU ${fmt(cpu)} s`);
      }
    }
    log(
      `median CPU s: unencrypted ${median(plain).toFixed(2)}, encrypted ${median(encrypted).toFixed(2)}, ` +
        `encryption adds ${(median(encrypted) - median(plain)).toFixed(2)}`,
    );
    log('the encrypting pass in pieces (no streams, no storage):');
    log(`  copy into records              ${fmt(await cpuOf(() => pieces({ hash: false, gcm: false })))} s`);
    log(`  copy + plaintext sha256        ${fmt(await cpuOf(() => pieces({ hash: true, gcm: false })))} s`);
    log(`  copy + AES-256-GCM             ${fmt(await cpuOf(() => pieces({ hash: false, gcm: true })))} s`);
    log(`  copy + sha256 + AES-256-GCM    ${fmt(await cpuOf(() => pieces({ hash: true, gcm: true })))} s`);
    log(load());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
