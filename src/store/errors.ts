import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by the database layer, and its kind (the CLI exit code follows the kind). */
export const STORE_ERRORS = {
  /** the database was migrated by a newer iyesmp: this build does not know its schema */
  'store.schema_newer': 'conflict',
  /** the schema is older than this build (or empty) and migrating was not asked for */
  'store.schema_behind': 'conflict',
  /** the database could not be reached or opened */
  'store.unreachable': 'io',
  /** a migration failed (the database is left at the last one that succeeded) */
  'store.migrate_failed': 'io',
  /** database.url or the embedded folder is not usable */
  'store.bad_location': 'input',
} as const;
export type StoreErrorCode = ErrorCodeOf<typeof STORE_ERRORS>;
export const storeError = errorFactory(STORE_ERRORS);
