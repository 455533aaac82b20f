import { errorFactory, type ErrorCodeOf } from '../errors.js';

/** Every code raised by file writes, and its kind (the CLI exit code follows the kind). */
export const FS_ERRORS = {
  exists: 'conflict',
} as const;
export type FsErrorCode = ErrorCodeOf<typeof FS_ERRORS>;
export const fsError = errorFactory(FS_ERRORS);
