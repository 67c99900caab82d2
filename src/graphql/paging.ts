/** GraphQL's Relay-style page arguments; the services take REST's limit/cursor. */
export type PageArgs = { first?: number | null; after?: string | null };

export const pageRequest = (a: PageArgs) => ({ limit: a.first ?? undefined, cursor: a.after ?? undefined });
