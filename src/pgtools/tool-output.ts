import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { withPrivateToolDir } from './passfile.js';

/**
 * A tool's stdout, read into a fixed ring of buffers that are used again and again.
 *
 * Why: node reads a pipe into a fresh Buffer each time, and V8 frees those buffers only at a GC, which
 * for this external memory came after about 32 MiB of them. A backup streams its whole dump through
 * the server, so the server carried a sawtooth of up to 32 MiB of dead buffers, whatever the database
 * size (node 20, measured with `npm run bench`). With the ring it holds SLABS x SLAB_BYTES.
 *
 * How: the tool's stdout is one end of a connected UNIX socket pair, made by listening on a socket in a
 * private (0700) directory and connecting to it; our end reads with net's `onread` option, which fills
 * buffers we supply. If the socket's path would not fit in sun_path (a very long TMPDIR), the tool gets
 * a plain pipe instead: fresh buffers, the same flow control.
 */

export interface OutputHandlers {
  /**
   * One chunk of output. Its memory is reused for a later read as soon as this returns, unless `hold()`
   * was called: then once every release function `hold()` returned has been called. Whatever is kept
   * longer than that must be copied.
   */
  onChunk(chunk: Buffer, hold: () => () => void): void;
  onEnd(): void;
  onError(err: Error): void;
}

export interface ToolOutput {
  /** Pass as the tool's stdout (RunPgToolOptions.stdout). */
  readonly stdout: Socket | 'pipe';
  /** Call right after starting the tool; `pipe` is the tool's stdout when `stdout` was 'pipe'. */
  start(pipe: Readable | null, handlers: OutputHandlers): void;
  /** Stops reading and closes our end (idempotent). */
  destroy(): void;
}

const SLAB_BYTES = 64 * 1024;
/** Chunks held at most (by writes in flight); reading pauses until one is released. */
export const TOOL_OUTPUT_SLABS = 16;
/** sun_path holds 108 bytes on Linux, 104 on macOS, its NUL included. */
const MAX_SOCKET_PATH_BYTES = 100;

/** Opens the channel for one tool run; its private directory is removed again before this resolves. */
export async function openToolOutput(): Promise<ToolOutput> {
  const output = await withPrivateToolDir(async (dir) => {
    const path = join(dir, 'out');
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) return undefined;
    const output = new SocketOutput();
    await output.connect(path);
    return output;
  });
  return output ?? new PipeOutput();
}

interface Ticket {
  holds: number;
}

/** Counts the holds on each delivered chunk; `onFree` runs whenever a chunk is fully released. */
class Holds {
  onChunk: OutputHandlers['onChunk'] = () => undefined;
  /** Chunks with a hold still on them. */
  outstanding = 0;

  constructor(private readonly onFree: () => void) {}

  deliver(chunk: Buffer, ticket: Ticket): void {
    ticket.holds++; // our own, for the duration of the call
    this.outstanding++;
    const hold = () => {
      ticket.holds++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.#release(ticket);
      };
    };
    try {
      this.onChunk(chunk, hold);
    } finally {
      this.#release(ticket);
    }
  }

  #release(ticket: Ticket): void {
    if (--ticket.holds > 0) return;
    this.outstanding--;
    this.onFree();
  }
}

interface Slab extends Ticket {
  buffer: Buffer;
}

class SocketOutput implements ToolOutput {
  readonly #slabs: Slab[] = Array.from({ length: TOOL_OUTPUT_SLABS }, () => ({
    buffer: Buffer.allocUnsafe(SLAB_BYTES),
    holds: 0,
  }));
  /** The slab the next read fills. */
  #next = 0;
  /** Set while reading is paused until this slab is free. */
  #waitingFor: Slab | undefined;
  #reader: Socket | undefined;
  #writer: Socket | undefined;
  readonly #holds = new Holds(() => {
    if (this.#waitingFor === undefined || this.#waitingFor.holds > 0) return;
    this.#waitingFor = undefined;
    this.#reader?.resume();
  });

  get stdout(): Socket {
    if (this.#writer === undefined) throw new Error('the tool output is not connected');
    return this.#writer;
  }

  async connect(path: string): Promise<void> {
    const server = createServer({ pauseOnConnect: true });
    try {
      server.listen(path);
      await once(server, 'listening');
      const reader = connect({
        path,
        onread: {
          // Called when the socket opens and after each read: the buffer the next read fills.
          buffer: () => this.#slab(this.#next).buffer,
          callback: (bytes, buffer) => this.#onRead(bytes, buffer),
        },
      });
      this.#reader = reader;
      reader.pause(); // nothing is read before start()
      const [[writer]] = (await Promise.all([once(server, 'connection'), once(reader, 'connect')])) as [[Socket], []];
      this.#writer = writer;
    } catch (err) {
      this.destroy();
      throw err;
    } finally {
      server.close(); // one connection only; libuv also removes the socket file
    }
  }

  start(_pipe: Readable | null, handlers: OutputHandlers): void {
    const reader = this.#reader;
    if (reader === undefined) throw new Error('the tool output is not connected');
    this.#writer?.destroy(); // the tool holds its own copy of this end
    this.#holds.onChunk = handlers.onChunk;
    reader.on('end', handlers.onEnd);
    reader.on('error', handlers.onError);
    reader.resume();
  }

  destroy(): void {
    this.#writer?.destroy();
    this.#reader?.destroy();
  }

  /** Returning false pauses the socket; #holds resumes it once the next slab is free. */
  #onRead(bytes: number, buffer: Uint8Array): boolean {
    const slab = this.#slab(this.#next);
    this.#next = (this.#next + 1) % TOOL_OUTPUT_SLABS;
    if (buffer !== slab.buffer) {
      // Cannot happen with net's onread contract; fail loudly rather than hand out the wrong bytes.
      this.#reader?.destroy(new Error('a tool output read landed outside its slab'));
      return false;
    }
    this.#holds.deliver(slab.buffer.subarray(0, bytes), slab);
    const following = this.#slab(this.#next);
    if (following.holds === 0) return true;
    this.#waitingFor = following;
    return false;
  }

  #slab(index: number): Slab {
    const slab = this.#slabs[index];
    if (slab === undefined) throw new Error(`no slab ${index}`);
    return slab;
  }
}

class PipeOutput implements ToolOutput {
  readonly stdout = 'pipe';
  #source: Readable | null = null;
  readonly #holds = new Holds(() => {
    if (this.#source?.isPaused() && this.#holds.outstanding < TOOL_OUTPUT_SLABS) this.#source.resume();
  });

  start(pipe: Readable | null, handlers: OutputHandlers): void {
    if (pipe === null) throw new Error('a tool output opened as a pipe needs the tool stdout');
    this.#source = pipe;
    this.#holds.onChunk = handlers.onChunk;
    pipe.on('data', (chunk: Buffer) => {
      this.#holds.deliver(chunk, { holds: 0 });
      if (this.#holds.outstanding >= TOOL_OUTPUT_SLABS) pipe.pause();
    });
    pipe.on('end', handlers.onEnd);
    pipe.on('error', handlers.onError);
  }

  destroy(): void {
    this.#source?.destroy();
  }
}
