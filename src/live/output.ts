import type { ServerResponse } from 'node:http';

/** One SSE block, encoded once and shared by every subscriber that receives it. */
export interface Frame {
  readonly bytes: Buffer;
  /** The `id:` it carries (an event's position), if any. */
  readonly id?: bigint;
  /** Counts against the event limit of the buffer (pings and id updates do not). */
  readonly event: boolean;
}

export interface BufferLimits {
  maxEvents: number;
  maxBytes: number;
}

/** How long a stream that has been ended may keep flushing to a client that does not read. */
const END_GRACE_MS = 10_000;
/** The same when the server shuts down. */
const SHUTDOWN_GRACE_MS = 1000;

export const textFrame = (text: string, id?: bigint): Frame => ({
  bytes: Buffer.from(text),
  event: false,
  ...(id === undefined ? {} : { id }),
});

/** A control event (`dropped`, `closed`): a JSON reason and the position to resume after. */
export const controlFrame = (type: string, body: Record<string, unknown>): Frame =>
  textFrame(`event: ${type}\ndata: ${JSON.stringify(body)}\n\n`);

/**
 * The outgoing side of one SSE response. Frames go straight to the socket while it accepts them;
 * once it does not (`write` returned false), they wait in a bounded queue until 'drain'. Nothing here
 * ever waits for the client: `push` tells the caller when the queue overflowed.
 */
export class SseOutput {
  private readonly queue: Frame[] = [];
  private queuedEvents = 0;
  private queuedBytes = 0;
  private blocked = false;
  private ended = false;
  private idleWaiters: (() => void)[] = [];
  /** The id of the last frame handed to the socket: what the client has (or will have) seen. */
  lastWritten: bigint;
  /** The id of the last frame accepted, written or queued. */
  lastQueued: bigint;

  constructor(
    private readonly res: ServerResponse,
    private readonly limits: BufferLimits,
    start: bigint,
  ) {
    this.lastWritten = start;
    this.lastQueued = start;
    res.on('drain', () => this.flush());
    res.on('close', () => {
      this.ended = true;
      this.settleIdle();
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Whether the socket has refused data and not drained since. */
  get congested(): boolean {
    return this.blocked || this.queue.length > 0;
  }

  /**
   * Sends or queues the frame. Returns false when the queue now exceeds its limits (`bounded`),
   * which the caller answers by dropping the subscriber. A replay pushes unbounded and waits for `idle`.
   */
  push(frame: Frame, bounded = true): boolean {
    if (this.ended) return true;
    if (frame.id !== undefined) this.lastQueued = frame.id;
    if (!this.congested) {
      this.write(frame);
      return true;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.bytes.length;
    if (frame.event) this.queuedEvents += 1;
    return !bounded || (this.queuedEvents <= this.limits.maxEvents && this.queuedBytes <= this.limits.maxBytes);
  }

  /** Resolves once everything pushed so far is in the socket's hands (or the stream closed). */
  idle(): Promise<void> {
    if (this.ended || !this.congested) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Ends the response: queued frames are discarded, `last` is written, and the connection is closed
   * once it is flushed (at once when `now`, else after a grace period for a client that does not read).
   */
  end(last?: Frame, now = false): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.settleIdle();
    const { res } = this;
    const destroy = () => res.destroy();
    if (now && this.blocked) {
      destroy();
      return;
    }
    const timer = setTimeout(destroy, now ? SHUTDOWN_GRACE_MS : END_GRACE_MS).unref();
    res.once('close', () => clearTimeout(timer));
    // A finished SSE response is not reused: the client reconnects with a new request anyway.
    res.end(last?.bytes, () => {
      clearTimeout(timer);
      destroy();
    });
  }

  private write(frame: Frame): void {
    if (frame.id !== undefined) this.lastWritten = frame.id;
    if (!this.res.write(frame.bytes)) this.blocked = true;
  }

  private flush(): void {
    this.blocked = false;
    while (!this.blocked && !this.ended) {
      const frame = this.queue.shift();
      if (!frame) break;
      this.queuedBytes -= frame.bytes.length;
      if (frame.event) this.queuedEvents -= 1;
      this.write(frame);
    }
    if (!this.congested) this.settleIdle();
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
