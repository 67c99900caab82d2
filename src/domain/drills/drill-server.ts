import type { SslMode } from '../../pgtools/conninfo.js';
import type { Services } from '../services.js';
import type { TargetRow } from '../targets/service.js';
import { type TargetAccess, withOperatorServerAccess, withTargetAccess } from '../targets/session.js';

/**
 * PGSTEWARD_DRILL_TARGET: a secret reference (`file:<key>` or `aws-sm:<id>`) whose secret carries
 * username, password, host, port and dbname (the database to connect to for CREATE/DROP DATABASE) of a
 * server kept for drills, so a drill never loads the production server. It goes through the same
 * secret store (rotation retry included) and network policy as every target, but it is the operator's
 * secret: no tenant may name it in a target, and no target may point at this server.
 */
export interface DrillServer {
  secretRef: string;
  sslMode: SslMode;
}

const EPOCH = new Date(0);

/** Run `use` with access to where a drill restores: the drill server if one is configured, else the target. */
export function withDrillAccess<T>(
  services: Services,
  drillServer: DrillServer | undefined,
  target: TargetRow,
  use: (access: TargetAccess, server: 'target' | 'drill-server') => Promise<T>,
): Promise<T> {
  if (drillServer === undefined) return withTargetAccess(services, target, (access) => use(access, 'target'));
  const pseudoTarget: TargetRow = {
    id: '00000000-0000-0000-0000-000000000000',
    tenant_id: target.tenant_id,
    name: 'drill-server',
    host: null,
    port: null,
    database: null,
    ssl_mode: drillServer.sslMode,
    secret_ref: drillServer.secretRef,
    admin_secret_ref: null,
    created_at: EPOCH,
    updated_at: EPOCH,
  };
  return withOperatorServerAccess(services, pseudoTarget, (access) => use(access, 'drill-server'));
}
