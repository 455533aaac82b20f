/** Assertions several test areas share. */
import { expect } from 'vitest';
import { IyesmpError } from '../../src/errors.js';

/** Awaits a promise that must reject with an IyesmpError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<IyesmpError> {
  const e = await p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(IyesmpError);
  return e as IyesmpError;
}

/** Like `rejection`, but a promise that fulfils fails the test with the error `ifFulfilled`. */
export async function failureOf(p: Promise<unknown>, ifFulfilled: string): Promise<IyesmpError> {
  const e = await p.then(
    () => {
      throw new Error(ifFulfilled);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(IyesmpError);
  return e as IyesmpError;
}
