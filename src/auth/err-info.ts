import { IyesmpError } from '../errors.js';

/** An error as log fields (and as the hand-off core's input): code when it has one, and the message. */
export function errInfo(err: unknown): { code?: string; message: string } {
  if (err instanceof IyesmpError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}
