import { connectToTarget, targetClientConfig } from '../../targets/connect.js';
import { type TargetAccess, withTargetClient } from '../../targets/session.js';
import type { RotationServer } from './rotation.js';
import { alterRolePassword } from './server-queries.js';

/**
 * The real server side of a rotation: the verifier is set through the admin credential's session, and
 * the login test connects as the login user to the role set's database on the same checked address,
 * with the target's sslmode (and CA) exactly as every other connection to the target uses them.
 */
export function rotationServer(admin: TargetAccess, database: string): RotationServer {
  return {
    async setVerifier(username, verifier) {
      await withTargetClient(admin, async (client) => {
        await client.query(alterRolePassword(username, verifier));
      });
    },
    async testLogin(username, password) {
      const endpoint = { ...admin.endpoint, database };
      const client = await connectToTarget(targetClientConfig(endpoint, admin.checked, { username, password }));
      try {
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}
