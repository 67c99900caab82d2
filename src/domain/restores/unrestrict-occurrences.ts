/**
 * psql before 15.19 (14.24, 16.15, 17.11, 18.6) runs backquoted shell commands in `\\unrestrict`'s
 * argument even in restricted mode. So, whatever the lexers make of the text around it, `\\unrestrict`
 * may appear only as pg_dump's own line. This finds every occurrence in the raw bytes, across chunk
 * boundaries; the guard then accepts each one its scan reads as such a line, and refuses the script if
 * any is left over (an occurrence in a string, a comment or COPY data).
 */
export class UnrestrictOccurrences {
  static readonly NEEDLE = '\\unrestrict';
  /** The last bytes seen, so a match split across two chunks is found. */
  #tail = '';
  #seen = 0;
  #at: number[] = [];

  /** Records the occurrences in the next raw bytes; false when one does not start a line. */
  scan(text: string): boolean {
    const needle = UnrestrictOccurrences.NEEDLE;
    const hay = this.#tail + text;
    const base = this.#seen - this.#tail.length;
    for (let at = hay.indexOf(needle); at !== -1; at = hay.indexOf(needle, at + 1)) {
      if (at + needle.length <= this.#tail.length) continue; // found with the previous chunk
      const atLineStart = at === 0 ? base === 0 : hay[at - 1] === '\n';
      if (!atLineStart) return false;
      this.#at.push(base + at);
    }
    this.#seen += text.length;
    this.#tail = hay.slice(-needle.length);
    return true;
  }

  /** The byte offset of the first occurrence not yet accepted. */
  get first(): number | undefined {
    return this.#at[0];
  }

  /** The guard read the line at `offset` as pg_dump's own `\\unrestrict KEY` line. */
  accept(offset: number): void {
    if (this.#at[0] === offset) this.#at.shift();
  }
}
