/** GraphQL enum values are UPPER_SNAKE; REST and the services use the lower-case strings. */
export const toEnum = (value: string): string => value.toUpperCase().replaceAll('-', '_');
export const fromEnum = <T extends string>(value: string): T => value.toLowerCase().replaceAll('_', '-') as T;
export const fromOptionalEnum = <T extends string>(value: string | null | undefined): T | undefined =>
  value === null || value === undefined ? undefined : fromEnum<T>(value);
