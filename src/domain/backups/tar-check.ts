/**
 * A streaming structural check of a tar archive. pg_restore reading a tar archive from a pipe exits 0
 * even when the archive was cut short (measured with pg_restore 15.18: truncated at 5 kB of 1.3 MB,
 * exit status 0), so a tar-format backup also has to prove it is whole: every header's checksum holds,
 * every member's data is complete, and the archive ends with its end-of-archive zero blocks.
 */
export class TarStructureCheck {
  #pending = Buffer.alloc(0);
  /** Bytes of member data (plus padding) still to skip before the next header. */
  #skip = 0;
  #zeroBlocks = 0;
  #ended = false;
  #problem: string | undefined;
  readonly members: string[] = [];

  /** Inspects the next chunk of the archive; keeps (copies) at most a partial header of it. */
  observe(chunk: Buffer): void {
    if (this.#problem === undefined && !this.#ended) this.#inspect(chunk);
  }

  #inspect(chunk: Buffer): void {
    let buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, buf.length);
        this.#skip -= n;
        buf = buf.subarray(n);
        if (this.#skip > 0) break;
      }
      if (buf.length < 512) break;
      const header = buf.subarray(0, 512);
      buf = buf.subarray(512);
      if (header.every((b) => b === 0)) {
        if (++this.#zeroBlocks === 2) {
          this.#ended = true;
          break;
        }
        continue;
      }
      if (this.#zeroBlocks > 0) {
        this.#problem = 'a header follows an end-of-archive block';
        break;
      }
      const problem = checkHeader(header);
      if (problem) {
        this.#problem = problem;
        break;
      }
      const size = Number.parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim() || '0', 8);
      this.members.push(header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, ''));
      this.#skip = Math.ceil(size / 512) * 512;
    }
    this.#pending = this.#ended || this.#problem ? Buffer.alloc(0) : Buffer.from(buf);
  }

  /** Undefined when the archive was complete and well-formed; else what was wrong. */
  verdict(): string | undefined {
    if (this.#problem) return this.#problem;
    if (!this.#ended) return this.#skip > 0 ? 'the last member is cut short' : 'the end-of-archive blocks are missing';
    if (!this.members.includes('toc.dat')) return 'the archive has no toc.dat';
    return undefined;
  }
}

function checkHeader(header: Buffer): string | undefined {
  const recorded = Number.parseInt(header.subarray(148, 156).toString('ascii').replace(/\0.*$/, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
  return recorded === sum ? undefined : 'a header checksum does not match';
}
