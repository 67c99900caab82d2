/** Every object of a backup lives under this prefix: <tenant>/<target>/<backup id>/. */
export const backupPrefix = (tenantId: string, targetId: string, backupId: string) =>
  `${tenantId}/${targetId}/${backupId}/`;
