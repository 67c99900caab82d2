import type { SecretFields } from '../../../secrets/secret-fields.js';

/** Where the login user's credentials are good: the target's server and the role set's database. */
export interface LoginAddress {
  host: string;
  port: number;
  dbname: string;
}

/**
 * The secret a login user's credentials are written as: the shape AWS's RDS rotation functions read and
 * write (`{engine, host, port, username, password, dbname}`), so AWS's own rotation Lambdas, and any
 * client library that reads RDS secrets, understand it.
 */
export function loginSecretValue(address: LoginAddress, username: string, password: string): SecretFields {
  return { engine: 'postgres', host: address.host, port: address.port, username, password, dbname: address.dbname };
}
