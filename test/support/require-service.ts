/**
 * Tests against a real service (Mosquitto, Redis) skip with a visible reason when it is missing,
 * but fail under IYESMP_REQUIRE_SERVICES=1 (CI that promises the services).
 */
export const REQUIRE_SERVICES = process.env.IYESMP_REQUIRE_SERVICES === '1';

/** `why` when the service is missing: undefined when present; throws when services are required. */
export function missingService(what: string, why: string | undefined): string | undefined {
  if (why === undefined) return undefined;
  if (REQUIRE_SERVICES) throw new Error(`${what} is required (IYESMP_REQUIRE_SERVICES=1) but unavailable: ${why}`);
  console.warn(`skipping: ${what} unavailable: ${why}`);
  return why;
}
