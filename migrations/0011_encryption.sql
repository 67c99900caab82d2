-- Encryption at rest (src/domain/encryption). Key material is never stored here: a tenant's
-- key-encryption key is a reference (a secret or a KMS key), and a backup keeps only its data key
-- wrapped by that key.

-- The key-encryption key new backups of a tenant are wrapped with. No row: backups are not encrypted.
CREATE TABLE tenant_encryption (
  tenant_id   text PRIMARY KEY REFERENCES tenants (id),
  key_ref     text NOT NULL CHECK (length(key_ref) BETWEEN 1 AND 2100),
  since       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_encryption ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_encryption FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_encryption
  USING (pgsteward_tenant_visible(tenant_id)) WITH CHECK (pgsteward_tenant_visible(tenant_id));
GRANT SELECT, INSERT, UPDATE ON tenant_encryption TO pgsteward_app;

-- An encrypted backup's envelope: {algorithm, keyRef, keyVersion, wrapping, wrappedKey,
-- plaintextSha256, plaintextSizeBytes}. sha256/size_bytes stay those of the stored (encrypted) object.
-- A rewrap replaces keyRef/keyVersion/wrapping/wrappedKey and nothing else.
ALTER TABLE backups ADD COLUMN encryption jsonb
  CHECK (encryption IS NULL OR jsonb_typeof(encryption) = 'object');
-- The rewrap job walks a tenant's encrypted backups in id order.
CREATE INDEX backups_encrypted ON backups (tenant_id, id) WHERE encryption IS NOT NULL;
