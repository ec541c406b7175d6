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

export interface DeliveryPage {
  /** Only attempts whose id sorts before this one (the last id of the previous page). */
  before?: string;
  limit: number;
}

/**
 * What webhooks keep outside the event log, next to it in the platform's database: each webhook's
 * secret (write-only, never in an event) and the log of delivery attempts. Every row carries its
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
  /** Deletes the webhook's secret and delivery log. */
  deleteWebhook(tenant: string, id: string): Promise<void>;
  record(delivery: DeliveryRecord): Promise<void>;
  /** The webhook's delivery attempts, newest first. */
  deliveries(tenant: string, webhook: string, page: DeliveryPage): Promise<DeliveryRecord[]>;
  /** Deletes attempts older than `before`; returns how many. */
  prune(before: Date): Promise<number>;
  /** Deletes every row of the tenant. */
  deleteTenant(tenant: string): Promise<void>;
  close(): Promise<void>;
}
