export type DeliveryStatus = 'succeeded' | 'failed' | 'dead';

/** One attempt to deliver one event to one webhook. */
export interface DeliveryRecord {
  /** UUIDv7: newer attempts sort after older ones. */
  id: string;
  tenant: string;
  webhook: string;
  eventId: string;
  position: bigint;
  attempt: number;
  status: DeliveryStatus;
  httpStatus: number | null;
  durationMs: number | null;
  /** Short, never a secret nor the response body. */
  error: string | null;
  /** True for a delivery of a replay (`POST …/replay`). */
  replay: boolean;
  at: Date;
}

export type ReplayStatus = 'running' | 'finished' | 'cancelled';

/** A replay (`POST …/replay`): a row every process that delivers webhooks may claim and run. */
export interface ReplayRecord {
  /** UUIDv7: newer replays sort after older ones. */
  id: string;
  tenant: string;
  webhook: string;
  from: bigint;
  /** The log's head when the replay was asked for: the last position it may deliver. */
  to: bigint;
  /** Every matching event up to this position is delivered or dead-lettered (`to` once finished). */
  progress: bigint;
  status: ReplayStatus;
  createdAt: Date;
  updatedAt: Date;
}

export type NewReplay = Pick<ReplayRecord, 'id' | 'tenant' | 'webhook' | 'from' | 'to' | 'progress'>;

/** A running replay as the process that claimed it names it: the store refuses others' writes. */
export interface ReplayClaim {
  tenant: string;
  id: string;
  owner: string;
}

export interface DeliveryPage {
  /** Only attempts whose id sorts before this one (the last id of the previous page). */
  before?: string;
  limit: number;
}

/**
 * What webhooks keep outside the event log, next to it in the platform's database: each webhook's
 * secret (write-only, never in an event), the log of delivery attempts and the replays. Every row carries its
 * tenant (PostgreSQL: under a forced row-level security policy).
 */
export interface WebhookStore {
  /** Stores the secret of a new webhook; false (and nothing written) when the webhook already has one. */
  insertSecret(tenant: string, id: string, secret: string): Promise<boolean>;
  /** Inserts or replaces the secret. */
  putSecret(tenant: string, id: string, secret: string): Promise<void>;
  secret(tenant: string, id: string): Promise<string | undefined>;
  /** Every webhook that has a secret, of every tenant (the dispatchers to run). */
  webhooks(): Promise<{ tenant: string; id: string }[]>;
  /** Deletes the webhook's secret, delivery log and replays. */
  deleteWebhook(tenant: string, id: string): Promise<void>;
  record(delivery: DeliveryRecord): Promise<void>;
  /** The webhook's delivery attempts, newest first. */
  deliveries(tenant: string, webhook: string, page: DeliveryPage): Promise<DeliveryRecord[]>;
  /** Deletes attempts, and replays that ended, older than `before`; returns how many rows. */
  prune(before: Date): Promise<number>;
  /** Records a replay, running and claimed by nobody. */
  createReplay(replay: NewReplay): Promise<void>;
  /**
   * Claims the oldest running replay that nobody holds (never claimed, released, or whose owner's
   * lease has run out) for `leaseMs`, atomically: two processes never claim the same one at once.
   */
  claimReplay(owner: string, leaseMs: number): Promise<ReplayRecord | undefined>;
  /**
   * Saves the progress of a claimed replay and extends its lease by `leaseMs` from now (0 releases it);
   * false when the claim no longer holds (cancelled, deleted, or taken over after the lease ran out).
   */
  renewReplay(claim: ReplayClaim, progress: bigint, leaseMs: number): Promise<boolean>;
  /** Marks a claimed replay finished (progress `to`); false when the claim no longer holds. */
  finishReplay(claim: ReplayClaim): Promise<boolean>;
  /** Cancels the running replays of the webhook, or of every webhook of the tenant. */
  cancelReplays(tenant: string, webhook?: string): Promise<void>;
  /** The webhook's replays, newest first. */
  replays(tenant: string, webhook: string, limit: number): Promise<ReplayRecord[]>;
  /** Deletes every row of the tenant. */
  deleteTenant(tenant: string): Promise<void>;
  close(): Promise<void>;
}
