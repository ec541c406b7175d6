import { isIPv4, isIPv6 } from 'node:net';

/**
 * Failed logins are counted per user and per client address (the attempt store). A key locks once
 * its failures reach the threshold, for 1 s, then twice as long at each further failure, up to
 * 15 minutes: a person who mistypes waits seconds, a guesser gets a few dozen tries per hour. The
 * address threshold is higher, because many users can share an address (NAT, a proxy).
 */
export type AttemptKind = 'user' | 'address';

export const LOCKOUT_POLICY = Object.freeze({
  /** The failure count at which a key first locks (1 s). */
  threshold: Object.freeze({ user: 5, address: 20 } satisfies Record<AttemptKind, number>),
  baseMs: 1000,
  maxMs: 15 * 60 * 1000,
});

/** How long a key locks once it has this many failures: 0 below the threshold, then 1 s × 2^(failures − threshold), at most 15 min. */
export function lockDurationMs(kind: AttemptKind, failures: number): number {
  const over = Math.floor(failures) - LOCKOUT_POLICY.threshold[kind];
  if (!(over >= 0)) return 0;
  // 2^10 s is past the cap already: the exponent never needs to grow further.
  return Math.min(LOCKOUT_POLICY.baseMs * 2 ** Math.min(over, 20), LOCKOUT_POLICY.maxMs);
}

/**
 * The attempt keys of a login: `user:<username>` and `address:<ip>`. An IPv4-mapped IPv6 address
 * counts as its IPv4 address, and an IPv6 address as its /64 network (`address:2001:db8:0:1::/64`):
 * one host usually holds a whole /64, so counting single IPv6 addresses would never lock it.
 */
export function attemptKeys(username: string, address: string): { user: string; address: string } {
  return { user: `user:${username}`, address: `address:${addressKey(address)}` };
}

/** Whole seconds until the lock ends (the Retry-After header), rounded up; 0 once it has ended. */
export function retryAfterSeconds(lockedUntil: Date | number, now: Date | number = Date.now()): number {
  const remaining = Number(lockedUntil) - Number(now);
  return remaining > 0 ? Math.ceil(remaining / 1000) : 0;
}

function addressKey(address: string): string {
  if (isIPv4(address) || !isIPv6(address)) return address;
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped, a trailing IPv4 part folded in). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0] ?? '';
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string | undefined) => (part ? part.split(':').map((group) => Number.parseInt(group, 16)) : []);
  const [head, tail] = text.split('::');
  const [first, last] = [parse(head), parse(tail)];
  if (tail === undefined) return first;
  return [...first, ...Array<number>(8 - first.length - last.length).fill(0), ...last];
}
