// B5's peer: the route a team would write by hand, fastify + pg and nothing else, run as its own process
// by b5-api.ts. Same query text, same pool size, same connection string (TLS included) as pgsteward's
// GET /v1/jobs/{id}; it connects as the cluster's owner, so it needs no tenant setting. With
// B5_BARE_JWT_SECRET set it also verifies an HS256 bearer token (@fastify/jwt, as pgsteward does): the
// "bare + JWT" variant, which tells the cost of verification apart from the rest of pgsteward's path.
import fastifyJwt from '@fastify/jwt';
import Fastify from 'fastify';
import pg from 'pg';
import { withLibpqSslSemantics } from '../../src/db/pool.js';
import { selectJob } from '../../src/domain/jobs/queries.js';
import { toJobView } from '../../src/domain/jobs/view.js';
import { type JobRow, toJob } from '../../src/jobs/job-row.js';

const env = process.env;
const pool = new pg.Pool({
  connectionString: withLibpqSslSemantics(env.DATABASE_URL ?? ''),
  max: Number(env.B5_POOL_SIZE ?? 10),
  application_name: 'b5-bare',
});
pool.on('error', () => {});

const app = Fastify({ logger: false });
const secret = env.B5_BARE_JWT_SECRET;
if (secret) {
  await app.register(fastifyJwt, { secret, verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] } });
  app.addHook('onRequest', async (request) => {
    await request.jwtVerify();
  });
}
app.get<{ Params: { jobId: string } }>('/v1/jobs/:jobId', async (request, reply) => {
  const sql = selectJob(request.params.jobId);
  const { rows } = await pool.query<JobRow>(sql.text, sql.values);
  const row = rows[0];
  if (!row) return reply.code(404).send({ code: 'PGS_JOB_NOT_FOUND' });
  return toJobView(toJob(row));
});

await app.listen({ host: '127.0.0.1', port: Number(env.PORT) });
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => pool.end())
    .finally(() => process.exit(0));
});
