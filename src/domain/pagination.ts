import { Errors } from '../errors.js';
import { isUuid } from './ids.js';

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

/** How one list is ordered: the position a row's cursor carries, and such a position read back. */
export interface Keyset<R, P> {
  positionOf(row: R): string;
  /** The position as the list's query takes it, or undefined when this list never wrote it. */
  parse(position: string): P | undefined;
}

/**
 * One page of a keyset-paginated list. Checks the page size (PGS_VALIDATION) and the cursor
 * (PGS_INVALID_CURSOR), fetches limit+1 rows after the cursor's position (the extra row only tells
 * whether another page exists), and answers the list envelope with the next page's cursor.
 */
export async function listPage<R, T, P>(
  req: PageRequest,
  keyset: Keyset<R, P>,
  fetch: (after: P | undefined, limit: number) => Promise<R[]>,
  map: (row: R) => T,
): Promise<Page<T>> {
  const limit = pageSize(req);
  const position = decodeCursor(req.cursor);
  const after = position === undefined ? undefined : keyset.parse(position);
  if (position !== undefined && after === undefined) throw Errors.invalidCursor();
  const rows = await fetch(after, limit);
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(map),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyset.positionOf(last)) : null,
  };
}

/**
 * listPage for several parents at once (a GraphQL list field under a page of parents): the same page
 * request for each, one fetch answering up to limit+1 rows per parent, split by `parentOf`. Every
 * parent gets a page, empty when it has no rows.
 */
export async function listPagesByParent<R, T, P>(
  req: PageRequest,
  parents: string[],
  keyset: Keyset<R, P>,
  parentOf: (row: R) => string,
  fetch: (after: P | undefined, limit: number) => Promise<R[]>,
  map: (row: R) => T,
): Promise<Map<string, Page<T>>> {
  const limit = pageSize(req);
  const position = decodeCursor(req.cursor);
  const after = position === undefined ? undefined : keyset.parse(position);
  if (position !== undefined && after === undefined) throw Errors.invalidCursor();
  const byParent = new Map<string, R[]>(parents.map((p) => [p, []]));
  if (parents.length > 0) for (const row of await fetch(after, limit)) byParent.get(parentOf(row))?.push(row);
  const pages = new Map<string, Page<T>>();
  for (const [parent, rows] of byParent) {
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    pages.set(parent, {
      items: items.map(map),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyset.positionOf(last)) : null,
    });
  }
  return pages;
}

/** Rows ordered by (created_at, id), as targets, backups and restores are: a millisecond time and a UUID. */
export interface CreatedPosition {
  createdAt: string;
  id: string;
}

export const byCreatedAtAndId: Keyset<{ created_at: Date; id: string }, CreatedPosition> = {
  positionOf: (r) => `${r.created_at.toISOString()}|${r.id}`,
  parse: (position) => {
    const [createdAt, id, ...rest] = position.split('|');
    if (rest.length > 0 || !createdAt || !id || !isUuid(id) || Number.isNaN(Date.parse(createdAt))) return undefined;
    return { createdAt, id };
  },
};

/** Cursors are opaque to callers: base64url JSON of the keyset position. */
function encodeCursor(position: string): string {
  return Buffer.from(JSON.stringify({ v: 1, p: position })).toString('base64url');
}

function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; p?: unknown };
    if (parsed.v === 1 && typeof parsed.p === 'string') return parsed.p;
  } catch {
    // fall through: a cursor we did not issue
  }
  throw Errors.invalidCursor();
}

function pageSize(req: PageRequest): number {
  const n = req.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw Errors.validation(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return n;
}
