import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStorage } from '../../src/domain/backups/storage/artifact-storage.js';

/** A stored artifact's sha256 and size, read back through the storage as a restore would read it. */
export async function sha256Of(storage: ArtifactStorage, key: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await storage.read(key)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Read a stored single-file artifact whole. */
export async function readArtifact(storage: ArtifactStorage, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of await storage.read(key)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Overwrite a stored artifact with other bytes. */
export async function writeArtifact(storage: ArtifactStorage, key: string, bytes: Buffer): Promise<void> {
  const writer = await storage.createWriter(key);
  await pipeline(Readable.from([bytes]), writer.stream);
  await writer.commit();
}
