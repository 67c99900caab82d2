/**
 * A plain-format dump is a psql script, and a tenant's dump may have been tampered with. psql runs
 * meta-commands (`\!` runs a shell on OUR host, `\o`/`\w` write our files, `\i` reads them, `\copy`
 * does both, `\set` feeds variables back into the scanner) wherever its scanner is outside a quoted
 * string or comment, not only at the start of a line. So this guard scans the script the way psql's
 * scanner (psqlscan.l) does: quotes, the E'', N'', B'', X'' and U&'' prefixes (string starts, not
 * identifiers), numbers, dollar quotes, nested comments, parentheses, `BEGIN ATOMIC` bodies, and the data
 * of `COPY ... FROM stdin` up to its `\.` line. Where the two scanners disagree, psql may run a line the
 * guard took for data: a prefix counted as an identifier once hid a `BEGIN ATOMIC` body from the guard,
 * which then read the next lines as COPY data while psql ran them. The guard is defence in depth; the
 * restore itself puts psql in `\restrict` mode (restore-tools.ts). It refuses:
 *
 * - any backslash outside quotes, comments and COPY data, except a whole line `\restrict <key>` or
 *   `\unrestrict <key>` (pg_dump 15.18+ writes these; psql then refuses every other meta-command);
 * - a psql variable reference (`:name`, `:'name'`, `:"name"`): its value is scanned as more input;
 * - a COPY other than `COPY <table> [(columns)] FROM stdin ...`: no PROGRAM, no server files, and no
 *   COPY whose data psql would not read as data (so the two scanners cannot disagree about it);
 * - a standard string ('...') with an odd run of backslashes before a quote: whether that quote ends
 *   the string depends on standard_conforming_strings, which the script itself may change;
 * - SET client_encoding to an encoding whose multibyte characters may contain a backslash byte;
 * - a number directly followed by a letter or `_` (`1e'`, `0x1F`, `1_000`): psql 14, 15 and 16 split
 *   such text into different tokens, and pg_dump never writes it;
 * - a COPY data line starting with a backslash other than `\.` (the end), `\N` (NULL) and `\\` (an
 *   escaped backslash): should psql ever disagree about where the data starts, the line would be a
 *   meta-command to it. psql 15.18 calls `\N...` and `\\...` invalid commands and skips the rest of the
 *   line, and refusing them would refuse every dump with a NULL or a leading backslash in a first column.
 *
 * The scan works on bytes (latin1), so multibyte UTF-8 characters are just high bytes, as for psql.
 */

import {
  copyFromStdinTable,
  DOLLAR_TAG,
  isDigit,
  isIdentChar,
  isIdentStart,
  isSpace,
  RESTRICT_LINE,
  ROUTINE_WORDS,
  STRING_PREFIXES,
  type Token,
  unsafeClientEncoding,
} from './plain-dump-lexicon.js';
import { rolesInSqlLine } from './role-names.js';
import { UnrestrictOccurrences } from './unrestrict-occurrences.js';

export interface PlainDumpRefusal {
  line: number;
  kind: string;
}

export interface CopyBlock {
  table: string;
  start: number;
  end: number;
}

/** What a successful scan learnt about the script, for progress and role checks. */
export interface PlainDumpOutline {
  /** Byte offset just past each top-level statement (a COPY block counts as one, ending at `\.`). */
  statementEnds: number[];
  copies: CopyBlock[];
  /** pg_dump's own `\restrict KEY` / `\unrestrict KEY` lines, [start, end) byte ranges: left out when fed. */
  restrictLines: { start: number; end: number }[];
  /** Role names in OWNER TO, GRANT ... TO, REVOKE ... FROM and FOR ROLE. */
  roles: Set<string>;
}

export class PlainDumpRefused extends Error {
  constructor(readonly refusal: PlainDumpRefusal) {
    super(`line ${refusal.line}: ${refusal.kind}`);
    this.name = 'PlainDumpRefused';
  }
}

type Mode = 'normal' | 'squote' | 'equote' | 'dquote' | 'dollar' | 'block' | 'copy';

/** A normal-mode line longer than this is refused rather than buffered (COPY data is never buffered). */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
const MAX_TOKENS = 64;

export class PlainDumpGuard {
  #mode: Mode = 'normal';
  #dollarTag = '';
  #blockDepth = 0;
  #parenDepth = 0;
  #beginDepth = 0;
  #identifiers = ['', '', '', ''];
  #identifierCount = 0;
  #tokens: Token[] = [];
  #line = 1;
  #offset = 0; // bytes consumed before #partial
  #partial = '';
  #copyHead = '';
  #copyLineLength = 0;
  #copy: CopyBlock | null = null;
  #stringText = '';
  /** Every `\\unrestrict` in the raw bytes, each of which must turn out to be pg_dump's own line. */
  readonly #unrestricts = new UnrestrictOccurrences();
  readonly outline: PlainDumpOutline = { statementEnds: [], copies: [], restrictLines: [], roles: new Set() };

  /** `trackBeginBlocks`: psql 14+ keeps `BEGIN ATOMIC ... END` bodies in one statement. */
  constructor(private readonly opts: { trackBeginBlocks: boolean } = { trackBeginBlocks: true }) {}

  /** Feed the next bytes; throws PlainDumpRefused at the first refused construct. */
  feed(chunk: Buffer): void {
    const text = chunk.toString('latin1');
    if (!this.#unrestricts.scan(text)) this.#refuse('\\unrestrict inside a line');
    let pos = 0;
    while (pos < text.length) {
      this.#checkUnrestrict();
      if (this.#mode === 'copy') {
        pos = this.#scanCopy(text, pos);
        continue;
      }
      const nl = text.indexOf('\n', pos);
      if (nl === -1) {
        this.#partial += text.slice(pos);
        if (this.#partial.length > MAX_LINE_BYTES) this.#refuse('a line longer than 64 MiB');
        return;
      }
      const line = this.#partial + text.slice(pos, nl + 1);
      this.#partial = '';
      pos = nl + 1;
      this.#scanLine(line);
      this.#offset += line.length;
      this.#line++;
    }
  }

  /** The end of the script: a last line without newline, and nothing left open that psql would run. */
  end(): PlainDumpOutline {
    if (this.#partial !== '') {
      const line = this.#partial;
      this.#partial = '';
      this.#scanLine(line);
      this.#offset += line.length;
    }
    this.#checkUnrestrict(true);
    if (this.#mode === 'copy') {
      const head = this.#copyHead;
      if (head !== '' && head !== '\\.' && head !== '\\.\r') this.#checkCopyLineStart(head, this.#line);
      this.#endCopy();
    }
    return this.outline;
  }

  /** Every `\\unrestrict` before the current line (or before the end) was a line of pg_dump's own. */
  #checkUnrestrict(atEnd = false): void {
    const first = this.#unrestricts.first;
    if (first !== undefined && (atEnd || first < this.#offset)) this.#refuse('\\unrestrict in text or data');
  }

  #refuse(kind: string): never {
    throw new PlainDumpRefused({ line: this.#line, kind });
  }

  /** COPY data: only the start of each line matters (`\\.`, or another backslash?); lines are not buffered. */
  #scanCopy(text: string, start: number): number {
    let pos = start;
    while (pos < text.length) {
      const nl = text.indexOf('\n', pos);
      const end = nl === -1 ? text.length : nl + 1;
      if (this.#copyHead.length < 4) this.#copyHead += text.slice(pos, Math.min(end, pos + 4 - this.#copyHead.length));
      this.#copyLineLength += end - pos;
      this.#offset += end - pos;
      pos = end;
      if (nl === -1) return pos;
      const head = this.#copyHead;
      const length = this.#copyLineLength;
      this.#copyHead = '';
      this.#copyLineLength = 0;
      this.#line++;
      if ((length === 3 && head === '\\.\n') || (length === 4 && head === '\\.\r\n')) {
        this.#endCopy();
        return pos;
      }
      this.#checkCopyLineStart(head, this.#line - 1);
    }
    return pos;
  }

  #checkCopyLineStart(head: string, line: number): void {
    if (head[0] === '\\' && head[1] !== 'N' && head[1] !== '\\') {
      throw new PlainDumpRefused({ line, kind: 'a COPY data line starting with a backslash' });
    }
  }

  #endCopy(): void {
    this.#mode = 'normal';
    if (this.#copy) {
      this.#copy.end = this.#offset;
      this.outline.copies.push(this.#copy);
      this.#copy = null;
    }
    this.outline.statementEnds.push(this.#offset);
  }

  #scanLine(line: string): void {
    let i = 0;
    while (i < line.length) {
      switch (this.#mode) {
        case 'normal':
          i = this.#scanNormal(line, i);
          break;
        case 'squote':
        case 'equote':
          i = this.#scanString(line, i);
          break;
        case 'dquote': {
          const q = line.indexOf('"', i);
          if (q === -1) {
            this.#stringText += line.slice(i);
            return;
          }
          if (line[q + 1] === '"') {
            this.#stringText += line.slice(i, q + 1);
            i = q + 2;
            break;
          }
          this.#stringText += line.slice(i, q);
          this.#push('ident', this.#stringText);
          this.#mode = 'normal';
          i = q + 1;
          break;
        }
        case 'dollar': {
          const end = line.indexOf(this.#dollarTag, i);
          if (end === -1) return;
          this.#mode = 'normal';
          i = end + this.#dollarTag.length;
          break;
        }
        case 'block':
          i = this.#scanComment(line, i);
          break;
        case 'copy':
          // Only reachable when COPY ... FROM stdin; ended a line: handled by feed().
          return;
      }
    }
  }

  /** Inside nested comments: one pass (searching for the next opener and closer afresh is quadratic). */
  #scanComment(line: string, start: number): number {
    for (let i = start; i < line.length - 1; i++) {
      const a = line[i];
      const b = line[i + 1];
      if (a === '/' && b === '*') {
        this.#blockDepth++;
        i++;
      } else if (a === '*' && b === '/') {
        this.#blockDepth--;
        i++;
        if (this.#blockDepth === 0) {
          this.#mode = 'normal';
          return i + 1;
        }
      }
    }
    return line.length;
  }

  #scanString(line: string, start: number): number {
    let i = start;
    while (i < line.length) {
      const c = line[i];
      if (c === '\\' && this.#mode === 'equote') {
        this.#stringText += line.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c === "'") {
        if (this.#mode === 'squote') {
          let run = 0;
          while (line[i - 1 - run] === '\\' && i - 1 - run >= start) run++;
          if (run % 2 === 1) this.#refuse('a backslash before a quote in a standard string (ambiguous)');
        }
        if (line[i + 1] === "'") {
          this.#stringText += "'";
          i += 2;
          continue;
        }
        this.#push('string', this.#stringText.slice(0, 256));
        this.#mode = 'normal';
        return i + 1;
      }
      if (this.#stringText.length < 256) this.#stringText += c;
      i++;
    }
    return i;
  }

  #scanNormal(line: string, start: number): number {
    let i = start;
    if (i === 0) this.#rolesIn(line);
    while (i < line.length) {
      const code = line.charCodeAt(i);
      if (isSpace(code)) {
        i++;
        continue;
      }
      const c = line[i] as string;
      const next = line[i + 1];
      if (c === '-' && next === '-') return line.length;
      if (c === '/' && next === '*') {
        this.#mode = 'block';
        this.#blockDepth = 1;
        return i + 2;
      }
      if (c === "'") return this.#openString('squote', i + 1);
      if (c === '"') return this.#openString('dquote', i + 1);
      if (c === '\\') {
        if (i === 0 && RESTRICT_LINE.test(line) && this.#tokens.length === 0) {
          this.outline.restrictLines.push({ start: this.#offset, end: this.#offset + line.length });
          this.#unrestricts.accept(this.#offset);
          return line.length;
        }
        const name = /^\\([A-Za-z!?]+|.)/.exec(line.slice(i, i + 32))?.[1] ?? '';
        this.#refuse(`psql meta-command \\${name.slice(0, 20)}`);
      }
      if (c === ':') {
        if (next === ':') {
          i += 2;
          continue;
        }
        if (next !== undefined && (next === "'" || next === '"' || isIdentStart(line.charCodeAt(i + 1)))) {
          this.#refuse('a psql variable reference');
        }
      }
      if (c === '$') {
        // A word swallows the `$`s inside it, so a `$` here may open a dollar quote, even right after a number.
        const m = DOLLAR_TAG.exec(line.slice(i, i + 256));
        if (m) {
          this.#mode = 'dollar';
          this.#dollarTag = m[0];
          this.#push('string', '');
          return i + m[0].length;
        }
        if (isDigit(line.charCodeAt(i + 1))) {
          i = this.#number(line, i + 1); // a parameter, $1
          continue;
        }
      }
      if (isDigit(code) || (c === '.' && isDigit(line.charCodeAt(i + 1)))) {
        i = this.#number(line, i);
        continue;
      }
      if (isIdentStart(code)) {
        let j = i + 1;
        while (j < line.length && isIdentChar(line.charCodeAt(j))) j++;
        const word = line.slice(i, j);
        const lower = word.toLowerCase();
        // psql reads these as the start of a string or quoted identifier, never as an identifier: they
        // neither count towards its CREATE FUNCTION ... BEGIN ATOMIC heuristic nor end in `$`.
        if (line[j] === "'" && STRING_PREFIXES.has(lower))
          return this.#openString(lower === 'e' ? 'equote' : 'squote', j + 1);
        if (lower === 'u' && line[j] === '&' && (line[j + 1] === "'" || line[j + 1] === '"')) {
          return this.#openString(line[j + 1] === "'" ? 'squote' : 'dquote', j + 2);
        }
        this.#word(word);
        i = j;
        continue;
      }
      if (c === '(') this.#parenDepth++;
      if (c === ')' && this.#parenDepth > 0) this.#parenDepth--;
      if (c === ';' && this.#parenDepth === 0 && this.#beginDepth === 0) {
        this.#endStatement(this.#offset + i + 1, line, i + 1);
        if (this.#mode === 'copy') return line.length;
        i++;
        continue;
      }
      this.#push('sym', c);
      i++;
    }
    return i;
  }

  #openString(mode: 'squote' | 'equote' | 'dquote', at: number): number {
    this.#mode = mode;
    this.#stringText = '';
    return at;
  }

  /** A number from `at` (digits, a fraction, an exponent): psql's integer, decimal and real. */
  #number(line: string, at: number): number {
    let i = at;
    while (isDigit(line.charCodeAt(i))) i++;
    if (line[i] === '.' && line[i + 1] !== '.') {
      i++;
      while (isDigit(line.charCodeAt(i))) i++;
    }
    if (line[i] === 'e' || line[i] === 'E') {
      let j = i + 1;
      if (line[j] === '+' || line[j] === '-') j++;
      if (isDigit(line.charCodeAt(j))) {
        i = j;
        while (isDigit(line.charCodeAt(i))) i++;
      }
    }
    // psql 14 reads `1abc` as 1 and abc, psql 15 as the junk 1a and the identifier bc, psql 16 as one token.
    if (i < line.length && isIdentStart(line.charCodeAt(i))) this.#refuse('a number directly followed by a letter');
    this.#push('sym', '0');
    return i;
  }

  #rolesIn(line: string): void {
    if (/OWNER TO|GRANT|REVOKE|FOR ROLE/.test(line)) rolesInSqlLine(line, this.outline.roles);
  }

  /** psql's heuristic for CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END. */
  #word(word: string): void {
    const lower = word.toLowerCase();
    if (this.#identifierCount === 0) this.#identifiers = ['', '', '', ''];
    if (this.#identifierCount < 4 && ROUTINE_WORDS.has(lower)) {
      this.#identifiers[this.#identifierCount] = lower[0] as string;
    }
    this.#identifierCount++;
    const [a, b, c, d] = this.#identifiers;
    const inRoutine = a === 'c' && (b === 'f' || b === 'p' || (b === 'o' && c === 'r' && (d === 'f' || d === 'p')));
    if (this.opts.trackBeginBlocks && inRoutine && this.#parenDepth === 0) {
      if (lower === 'begin') this.#beginDepth++;
      else if (lower === 'case' && this.#beginDepth >= 1) this.#beginDepth++;
      else if (lower === 'end' && this.#beginDepth > 0) this.#beginDepth--;
    }
    if (this.#tokens.length < MAX_TOKENS) this.#push('word', word.toUpperCase());
  }

  /** Only the first tokens of a statement matter; `text` is a thunk-free value, cheap when dropped. */
  #push(kind: Token['kind'], text: string): void {
    if (this.#tokens.length < MAX_TOKENS) this.#tokens.push({ kind, text } as Token);
  }

  #endStatement(endOffset: number, line: string, rest: number): void {
    const tokens = this.#tokens;
    this.#tokens = [];
    this.#identifierCount = 0;
    this.#beginDepth = 0;
    const first = tokens[0];
    if (first?.kind === 'word' && first.text === 'COPY') {
      const table = copyFromStdinTable(tokens);
      if (table === null) this.#refuse('a COPY other than COPY <table> FROM stdin');
      if (line.slice(rest).trim() !== '') this.#refuse('text after COPY ... FROM stdin; on the same line');
      this.#mode = 'copy';
      this.#copy = { table, start: endOffset, end: endOffset };
      return;
    }
    const encoding = unsafeClientEncoding(tokens);
    if (encoding !== null) this.#refuse(`client encoding ${encoding}`);
    this.outline.statementEnds.push(endOffset);
  }
}
