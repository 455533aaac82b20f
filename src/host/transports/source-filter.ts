import { formatHostPort } from '../../net/address.js';
import type { AddressAllowList } from '../../transport/allow-list.js';
import type { AllowListEvent } from '../allow-list.js';
import type { HostSessions } from '../sessions.js';
import type { ExpectedAddress } from '../types.js';

/**
 * Keeps a transport's raw-datagram allow-list equal to the session table's: seeded with what the
 * table expects now, then following its `allow` events (an address is allowed before any listener
 * hears of the session that expects it, and revoked when the last player expected there departs or
 * its session ends). Every host transport drops what this list does not admit, before parsing.
 * Returns the function that stops following.
 */
export function followAllowList(sessions: Pick<HostSessions, 'on' | 'off' | 'allowList'>, list: AddressAllowList): () => void {
  const onAllow = (e: AllowListEvent): void => {
    if (e.type === 'allow') list.add(entry(e.address));
    else list.remove(entry(e.address));
  };
  // table keys are `ip` or `ip:port` in net/address form, which is the list's entry form too
  for (const key of sessions.allowList.keys()) list.add(key);
  sessions.on('allow', onAllow);
  return () => void sessions.off('allow', onAllow);
}

function entry(a: ExpectedAddress): string {
  return a.port === undefined ? a.ip : formatHostPort(a.ip, a.port);
}
