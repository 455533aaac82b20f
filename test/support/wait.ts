/** Polling for a condition the code under test reaches on its own (a socket, a timer, a peer). */

/** Polls `check` every `stepMs` until it returns a truthy value, which it resolves with; throws after `timeoutMs`. */
export async function pollUntil<T>(check: () => T | Promise<T>, what: string, timeoutMs = 20_000, stepMs = 20): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
