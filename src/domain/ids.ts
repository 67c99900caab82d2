const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Resource ids are UUIDs; anything else can name nothing, so services answer "not found" for it. */
export const isUuid = (id: string): boolean => UUID_PATTERN.test(id);
