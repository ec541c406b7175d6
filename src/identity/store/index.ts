export type * from './port.js';
export { postgresIdentityStore } from './postgres.js';
export { sqliteIdentityStore } from './sqlite.js';
