import type { FastifyReply, FastifyRequest } from 'fastify';
import type { operations } from '../generated/openapi.js';

/** Types of one OpenAPI operation, taken from the generated contract so handlers cannot drift from it. */
export type OperationId = keyof operations;

type Params<K extends OperationId> = operations[K]['parameters'];
export type OpBody<K extends OperationId> =
  NonNullable<operations[K]['requestBody']> extends {
    content: { 'application/json': infer B };
  }
    ? undefined extends operations[K]['requestBody']
      ? B | undefined
      : B
    : undefined;
export type OpQuery<K extends OperationId> = NonNullable<Params<K>['query']>;
export type OpPath<K extends OperationId> = NonNullable<Params<K>['path']>;

type SuccessStatus = 200 | 201 | 202;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : never;
export type OpResult<K extends OperationId> = {
  [S in keyof operations[K]['responses']]: S extends SuccessStatus ? JsonOf<operations[K]['responses'][S]> : never;
}[keyof operations[K]['responses']];

export type OpRequest<K extends OperationId> = FastifyRequest<{
  Body: OpBody<K>;
  Querystring: OpQuery<K>;
  Params: OpPath<K>;
}>;

export type OperationHandler<K extends OperationId> = (
  request: OpRequest<K>,
  reply: FastifyReply,
) => Promise<OpResult<K>>;

/** Every operation in the contract must have exactly one handler: the compiler checks this map. */
export type OperationHandlers = { [K in OperationId]: OperationHandler<K> };
