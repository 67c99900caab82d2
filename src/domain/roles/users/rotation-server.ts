import type pg from 'pg';
import { connectToTarget, targetClientConfig } from '../../targets/connect.js';
import type { TargetAccess } from '../../targets/session.js';
import type { RotationServer } from './rotation.js';
import { alterRolePassword } from './server-queries.js';

/**
 * The real server side of a rotation: the verifier is set in the admin credential's session, and the
 * login test connects as the login user to the role set's database on the same checked address, with
 * the target's sslmode (and CA) exactly as every other connection to the target uses them.
 */
export function rotationServer(admin: pg.ClientBase, access: TargetAccess, database: string): RotationServer {
  return {
    async setVerifier(username, verifier) {
      await admin.query(alterRolePassword(username, verifier));
    },
    async testLogin(username, password) {
      const endpoint = { ...access.endpoint, database };
      const client = await connectToTarget(targetClientConfig(endpoint, access.checked, { username, password }));
      try {
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}
