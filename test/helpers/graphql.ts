import type { FastifyInstance } from 'fastify';
import { bearer } from './app.js';

/** A GraphQL answer as a client reads it: data, and errors carrying their stable codes. */
export interface GraphqlAnswer {
  data: Record<string, unknown> | null;
  errors?: { extensions: { code: string } }[];
}

/** POST a query to /graphql with the token; the parsed answer. */
export async function postGraphql(
  app: FastifyInstance,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphqlAnswer> {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(token),
    payload: { query, variables },
  });
  return res.json() as GraphqlAnswer;
}
