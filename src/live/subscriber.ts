import type { Caller, Logger, Principal } from '../kernel/index.js';
import type { SseOutput } from './output.js';
import type { EventPatterns } from './patterns.js';

/** One open `/live` stream. */
export interface Subscriber {
  /** The tenant whose events it follows (the route's tenant). */
  readonly tenant: string;
  /** Who is asking, without permissions (the token's tenant, user and roles). */
  readonly caller: Caller;
  /** Its permission class: subscribers of one class see every event the same way. */
  readonly classKey: string;
  readonly patterns: EventPatterns;
  /** When its access token expires (ms since the epoch): the stream ends then. */
  readonly expiresAt: number;
  readonly output: SseOutput;
  readonly log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  /** Every event of the tenant up to here has been pushed to it (or skipped as not its to see). */
  cursor: bigint;
  /** Fed by the tail (true), or still replaying from the log (false). */
  live: boolean;
  closed: boolean;
  /** Gives its connection slot back. */
  readonly release: () => void;
}

/**
 * The permission class of a principal: subscribers whose token tenant, roles and user are the same
 * see every event the same way (the user matters only through `$user` in a `where`).
 */
export const classKeyOf = (principal: Principal) => JSON.stringify([principal.tenant, [...principal.roles].sort(), principal.user]);
