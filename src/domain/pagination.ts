import { Errors } from '../errors.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Cursors are opaque to callers: base64url JSON of the keyset position. */
export function encodeCursor(position: string): string {
  return Buffer.from(JSON.stringify({ v: 1, p: position })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; p?: unknown };
    if (parsed.v === 1 && typeof parsed.p === 'string') return parsed.p;
  } catch {
    // fall through: a cursor we did not issue
  }
  throw Errors.invalidCursor();
}

export function pageSize(req: PageRequest): number {
  const n = req.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw Errors.validation(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return n;
}

/** Fetch limit+1 rows; the extra one only tells whether another page exists. */
export function toPage<R, T>(rows: R[], limit: number, map: (r: R) => T, position: (r: R) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(map),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null,
  };
}
