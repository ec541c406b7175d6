import { parseRecordStream } from '../datamodel/index.js';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import { AppError, type Caller, type Logger, type Principal } from '../kernel/index.js';
import { controlFrame, type Frame } from './output.js';
import type { Subscriber } from './subscriber.js';
import { TenantViews, type ViewDeps } from './views.js';

export interface HubDeps extends ViewDeps {
  events: EventStore;
  /** The caller's principal with its roles' current permissions (role changes reach open streams). */
  principal(caller: Caller): Promise<Principal>;
  logger: Logger;
}

export interface ConnectionLimits {
  perTenant: number;
  total: number;
}

/** Events a replaying subscriber reads from the log at a time. */
const REPLAY_PAGE = 200;
/** A class's permissions are re-resolved when older than this (roles change within a second, docs/identity.md). */
const PRINCIPAL_TTL_MS = 1000;

interface PermissionClass {
  caller: Caller;
  principal: Principal;
  resolvedAt: number;
  refreshing?: Promise<void> | undefined;
  members: number;
}

type Outcome = { frame: Frame | undefined } | { failed: unknown };

/**
 * The subscribers of one process and the fan-out of the log to them. `position` is the tail's
 * watermark: every live subscriber has been given every event up to it, and every event up to it
 * is readable. A new subscriber replays from the log until its cursor reaches `position`, then
 * joins the live set in the same tick: nothing is lost, nothing is sent twice.
 */
export class LiveHub {
  position = 0n;
  private readonly subscribers = new Set<Subscriber>();
  private readonly live = new Map<string, Set<Subscriber>>();
  private liveCount = 0;
  private readonly reserved = new Map<string, number>();
  private total = 0;
  private readonly classes = new Map<string, PermissionClass>();
  private closing = false;

  constructor(
    private readonly deps: HubDeps,
    private readonly limits: ConnectionLimits,
    /** Called when the first subscriber goes live: the tail starts reading. */
    private readonly onLive: () => void,
  ) {}

  /** True while no subscriber is live: the tail then only follows the head, it reads nothing. */
  get idle(): boolean {
    return this.liveCount === 0;
  }

  get all(): ReadonlySet<Subscriber> {
    return this.subscribers;
  }

  /** Moves the watermark to a committed head while nobody is live (nothing to deliver before it). */
  advanceIdle(head: bigint): void {
    if (this.idle && head > this.position) this.position = head;
  }

  /** Takes a connection slot of the tenant, or `rate_limited` over a limit; the function gives it back (once). */
  reserve(tenant: string): () => void {
    if (this.closing) throw new AppError('unavailable', 'The server is shutting down');
    if (this.total >= this.limits.total) throw new AppError('rate_limited', `This server already holds ${this.limits.total} live streams`);
    const count = this.reserved.get(tenant) ?? 0;
    if (count >= this.limits.perTenant)
      throw new AppError('rate_limited', `Tenant ${tenant} already has ${this.limits.perTenant} live streams open`);
    this.reserved.set(tenant, count + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.reserved.get(tenant) ?? 1) - 1;
      if (left > 0) this.reserved.set(tenant, left);
      else this.reserved.delete(tenant);
    };
  }

  /** Registers the subscriber (with the principal it authenticated as) and starts its replay. */
  open(subscriber: Subscriber, principal: Principal): void {
    this.subscribers.add(subscriber);
    const known = this.classes.get(subscriber.classKey);
    if (known) {
      known.members += 1;
      Object.assign(known, { principal, resolvedAt: Date.now() });
    } else this.classes.set(subscriber.classKey, { caller: subscriber.caller, principal, resolvedAt: Date.now(), members: 1 });
    void this.follow(subscriber);
  }

  /** Ends the stream (with a last frame), unsubscribes it and gives its slot back. Idempotent. */
  close(subscriber: Subscriber, last?: Frame, now = false): void {
    if (subscriber.closed) return;
    subscriber.closed = true;
    this.subscribers.delete(subscriber);
    if (subscriber.live) {
      const set = this.live.get(subscriber.tenant);
      set?.delete(subscriber);
      if (set?.size === 0) this.live.delete(subscriber.tenant);
      this.liveCount -= 1;
    }
    const permissionClass = this.classes.get(subscriber.classKey);
    if (permissionClass && --permissionClass.members === 0) this.classes.delete(subscriber.classKey);
    subscriber.release();
    subscriber.output.end(last, now);
  }

  /** Ends every stream with `event: closed` and refuses new ones. */
  shutdown(): void {
    this.closing = true;
    for (const subscriber of [...this.subscribers]) this.close(subscriber, closedFrame(subscriber, 'shutdown'), true);
  }

  /** Delivers a batch read by the tail, in order; the watermark moves past each event as it is handed out. */
  async dispatch(batch: readonly RecordedEvent[]): Promise<void> {
    const views = new Map<string, TenantViews>();
    const viewsOf = (tenant: string) => {
      let found = views.get(tenant);
      if (!found) {
        found = new TenantViews(
          this.deps,
          tenant,
          batch.filter((event) => event.tenant === tenant),
        );
        views.set(tenant, found);
      }
      return found;
    };
    for (const event of batch) {
      if (event.position <= this.position) continue;
      if (this.live.has(event.tenant)) await this.deliver(event, viewsOf);
      else this.position = event.position;
      views.get(event.tenant)?.done(event);
    }
  }

  private async deliver(event: RecordedEvent, viewsOf: (tenant: string) => TenantViews): Promise<void> {
    const stream = parseRecordStream(event.streamId);
    const targets = () =>
      [...(this.live.get(event.tenant) ?? [])].filter(
        (subscriber) => subscriber.cursor < event.position && subscriber.patterns.matches(stream, event.type),
      );
    const outcomes = new Map<string, Outcome>();
    // Computing a view awaits; a subscriber may go live meanwhile, so the targets are taken again
    // until every class among them has its view. Only the final pass hands anything out.
    for (let wanted = targets(); ; wanted = targets()) {
      const missing = [...new Set(wanted.map((subscriber) => subscriber.classKey))].filter((key) => !outcomes.has(key));
      if (missing.length === 0) {
        for (const subscriber of wanted) this.hand(subscriber, event, outcomes.get(subscriber.classKey));
        break;
      }
      const views = viewsOf(event.tenant);
      await Promise.all(missing.map(async (key) => outcomes.set(key, await this.outcome(views, event, key))));
    }
    if (event.position > this.position) this.position = event.position;
  }

  private async outcome(views: TenantViews, event: RecordedEvent, classKey: string): Promise<Outcome> {
    try {
      const principal = await this.principalOf(classKey);
      // A class whose streams all closed meanwhile has nobody left to serve.
      return { frame: principal ? await views.view(event, classKey, principal) : undefined };
    } catch (error) {
      this.deps.logger.error({ err: error, tenant: event.tenant, position: event.position.toString() }, 'live view failed');
      return { failed: error };
    }
  }

  /** Pushes without ever waiting: a subscriber whose buffer overflows is dropped. */
  private hand(subscriber: Subscriber, event: RecordedEvent, outcome: Outcome | undefined): void {
    if (!outcome) return;
    if ('failed' in outcome) {
      this.close(subscriber, closedFrame(subscriber, 'error'));
      return;
    }
    if (!outcome.frame || subscriber.output.push(outcome.frame)) return;
    subscriber.log.info({ position: event.position.toString() }, 'live subscriber too slow: dropped');
    const { lastWritten } = subscriber.output;
    this.close(
      subscriber,
      controlFrame('dropped', {
        reason: 'slow_consumer',
        detail: 'The client did not read fast enough; reconnect with Last-Event-ID to resume',
        lastEventId: lastWritten.toString(),
      }),
    );
  }

  /** Replays the log from the subscriber's cursor up to the watermark (paced by the client), then goes live. */
  private async follow(subscriber: Subscriber): Promise<void> {
    try {
      while (!subscriber.closed) {
        const target = this.position;
        if (subscriber.cursor >= target) {
          this.attach(subscriber);
          return;
        }
        await this.replayPage(subscriber, target);
        await subscriber.output.idle();
      }
    } catch (error) {
      subscriber.log.error({ err: error }, 'live replay failed');
      this.close(subscriber, closedFrame(subscriber, 'error'));
    }
  }

  private async replayPage(subscriber: Subscriber, target: bigint): Promise<void> {
    const page = await this.deps.events.readTenant(subscriber.tenant, { after: subscriber.cursor, limit: REPLAY_PAGE });
    const views = new TenantViews(this.deps, subscriber.tenant, page);
    for (const event of page) {
      if (subscriber.closed) return;
      if (!subscriber.patterns.matches(parseRecordStream(event.streamId), event.type)) continue;
      const principal = await this.principalOf(subscriber.classKey);
      if (!principal) return;
      const frame = await views.view(event, subscriber.classKey, principal);
      if (frame) subscriber.output.push(frame, false);
      views.done(event);
    }
    const last = page.at(-1)?.position ?? subscriber.cursor;
    // A short page holds every event of the tenant committed before it was read, so up to `target` at least.
    subscriber.cursor = page.length === REPLAY_PAGE || last > target ? last : target;
  }

  private attach(subscriber: Subscriber): void {
    if (subscriber.closed) return;
    subscriber.live = true;
    let set = this.live.get(subscriber.tenant);
    if (!set) {
      set = new Set();
      this.live.set(subscriber.tenant, set);
    }
    set.add(subscriber);
    this.liveCount += 1;
    if (this.liveCount === 1) this.onLive();
  }

  /** The class's principal, its permissions re-resolved at most once a second; undefined once the class is gone. */
  private async principalOf(classKey: string): Promise<Principal | undefined> {
    const permissionClass = this.classes.get(classKey);
    if (!permissionClass) return undefined;
    if (Date.now() - permissionClass.resolvedAt > PRINCIPAL_TTL_MS) {
      permissionClass.refreshing ??= this.deps
        .principal(permissionClass.caller)
        .then((principal) => Object.assign(permissionClass, { principal, resolvedAt: Date.now() }))
        .catch((error: unknown) => this.deps.logger.warn({ err: error }, 'live: permissions not refreshed'))
        .then(() => {
          permissionClass.refreshing = undefined;
        });
      await permissionClass.refreshing;
    }
    return permissionClass.principal;
  }
}

/** `event: closed` with why and where to resume. */
export function closedFrame(subscriber: Subscriber, reason: string): Frame {
  return controlFrame('closed', { reason, lastEventId: subscriber.output.lastWritten.toString() });
}
