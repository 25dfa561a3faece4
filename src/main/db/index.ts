export { StateDb, DB_FILE, dbPath, dbError } from './state-db';
export { SCHEMA_VERSION } from './schema';
