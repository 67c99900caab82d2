import type { IResolvers } from 'mercurius';
import { setTenantEncryption, startRewrap } from '../../domain/encryption/service.js';

/** Encryption at rest: thin calls into the services REST uses; Tenant.encryption goes through a loader. */
export const encryptionResolvers: IResolvers = {
  Mutation: {
    setTenantEncryption: (_r, a: { tenantId: string; keyRef: string }, { ctx }) =>
      setTenantEncryption(ctx, a.tenantId, { keyRef: a.keyRef }),
    rewrapTenantKeys: (_r, { tenantId }: { tenantId: string }, { ctx }) => startRewrap(ctx, tenantId),
  },
};
