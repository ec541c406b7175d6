import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ConsumerPlan } from '../bus.js';
import type { Headers, OutgoingMessage, PublishResult } from '../port.js';
import { subjectMatches } from '../subjects.js';

/**
 * The in-process bus' durable state in one SQLite file: the messages of each stream, its last
 * sequence (kept apart, so that purging old messages never reuses a sequence), every durable
 * consumer's next sequence and the deliveries it has not acknowledged yet.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bus_streams (stream TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS bus_messages (
    stream TEXT NOT NULL, seq INTEGER NOT NULL, subject TEXT NOT NULL, msg_id TEXT NOT NULL,
    headers TEXT NOT NULL, data BLOB NOT NULL, stored_at INTEGER NOT NULL,
    PRIMARY KEY (stream, seq)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS bus_messages_by_id ON bus_messages (stream, msg_id, stored_at);
  CREATE INDEX IF NOT EXISTS bus_messages_by_age ON bus_messages (stored_at);
  CREATE TABLE IF NOT EXISTS bus_consumers (
    stream TEXT NOT NULL, name TEXT NOT NULL, pattern TEXT NOT NULL, next_seq INTEGER NOT NULL,
    PRIMARY KEY (stream, name)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS bus_pending (
    stream TEXT NOT NULL, consumer TEXT NOT NULL, seq INTEGER NOT NULL, attempts INTEGER NOT NULL, due_at INTEGER NOT NULL,
    PRIMARY KEY (stream, consumer, seq)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS bus_pending_by_due ON bus_pending (stream, consumer, due_at);
`;

const BUSY_TIMEOUT_MS = 30_000;
/** Messages read per step while looking for the next ones a consumer's pattern matches. */
const SCAN_CHUNK = 512;

export interface StoredMessage {
  seq: number;
  subject: string;
  msg_id: string;
  headers: string;
  data: Buffer;
}

export interface Claimed {
  message: StoredMessage;
  attempt: number;
}

/** A consumer on one stream: the stream's name on the bus and the plan it was opened with. */
export type ConsumerKey = Pick<ConsumerPlan, 'name' | 'subject' | 'start' | 'ackWaitMs' | 'maxAttempts'> & { stream: string };

export function openBusDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  return db;
}

export function createBusStore(db: Database.Database) {
  const sql = prepare(db);

  function lastSequence(stream: string): number {
    return (sql.lastSeq.get(stream) as { last_seq: number } | undefined)?.last_seq ?? 0;
  }

  /** Stores each message in its stream unless its id was seen within the window; one transaction. */
  const publish: (messages: Array<OutgoingMessage & { stream: string }>, now: number, windowMs: number) => PublishResult[] = db.transaction(
    (messages: Array<OutgoingMessage & { stream: string }>, now: number, windowMs: number) =>
      messages.map((message): PublishResult => {
        const seen = sql.findId.get(message.stream, message.id, now - windowMs) as { seq: number } | undefined;
        if (seen) return { sequence: seen.seq, duplicate: true };
        const sequence = lastSequence(message.stream) + 1;
        const headers: Headers = { ...message.headers, 'Nats-Msg-Id': message.id };
        sql.insertMessage.run(message.stream, sequence, message.subject, message.id, JSON.stringify(headers), message.data, now);
        sql.setLastSeq.run(message.stream, sequence);
        return { sequence, duplicate: false };
      }),
  );

  /** Creates the consumer unless it exists; false when it exists with another pattern. */
  function ensureConsumer(key: ConsumerKey): boolean {
    const existing = sql.consumer.get(key.stream, key.name) as { pattern: string } | undefined;
    if (existing) return existing.pattern === key.subject;
    const next = key.start === 'new' ? lastSequence(key.stream) + 1 : 1;
    sql.insertConsumer.run(key.stream, key.name, key.subject, next);
    return true;
  }

  /** Hands out up to `limit` deliveries: due redeliveries first, then new matching messages. */
  const claim: (key: ConsumerKey, limit: number, now: number) => Claimed[] = db.transaction(
    (key: ConsumerKey, limit: number, now: number): Claimed[] => {
      ensureConsumer(key);
      sql.dropExhausted.run(key.stream, key.name, now, key.maxAttempts);
      const due = sql.due.all(key.stream, key.name, now, limit) as Array<StoredMessage & { attempts: number }>;
      const claimed = due.map((row): Claimed => {
        sql.redeliver.run(now + key.ackWaitMs, key.stream, key.name, row.seq);
        return { message: row, attempt: row.attempts + 1 };
      });
      return claimed.concat(claimNew(key, limit - claimed.length, now));
    },
  );

  function claimNew(key: ConsumerKey, limit: number, now: number): Claimed[] {
    const claimed: Claimed[] = [];
    let next = (sql.consumer.get(key.stream, key.name) as { next_seq: number }).next_seq;
    while (claimed.length < limit) {
      const rows = sql.after.all(key.stream, next, SCAN_CHUNK) as StoredMessage[];
      for (const row of rows) {
        if (claimed.length >= limit) break;
        next = row.seq + 1;
        if (!subjectMatches(key.subject, row.subject)) continue;
        sql.insertPending.run(key.stream, key.name, row.seq, now + key.ackWaitMs);
        claimed.push({ message: row, attempt: 1 });
      }
      if (rows.length < SCAN_CHUNK) break;
    }
    sql.setNext.run(next, key.stream, key.name);
    return claimed;
  }

  return {
    /** Answers a query (the bus' ping). */
    ping: (): void => void db.prepare('SELECT 1').get(),
    close: (): void => void db.close(),
    lastSequence,
    publish,
    ensureConsumer: db.transaction(ensureConsumer) as (key: ConsumerKey) => boolean,
    claim,
    ack(key: ConsumerKey, seq: number): void {
      sql.settle.run(key.stream, key.name, seq);
    },
    retry(key: ConsumerKey, seq: number, dueAt: number): void {
      sql.postpone.run(dueAt, key.stream, key.name, seq);
    },
    /** When the consumer's next redelivery falls due, if it has any. */
    nextDue(key: ConsumerKey): number | undefined {
      return (sql.nextDue.get(key.stream, key.name) as { due: number | null }).due ?? undefined;
    },
    deleteConsumer: db.transaction((stream: string, name: string) => {
      sql.deleteConsumer.run(stream, name);
      sql.deletePending.run(stream, name);
    }) as (stream: string, name: string) => void,
    /** Forgets the messages stored before `before` and the deliveries still pending on them. */
    purge: db.transaction((before: number) => {
      sql.purgeMessages.run(before);
      sql.purgeOrphans.run();
    }) as (before: number) => void,
  };
}

export type BusStore = ReturnType<typeof createBusStore>;

function prepare(db: Database.Database) {
  const message = 'm.seq, m.subject, m.msg_id, m.headers, m.data';
  return {
    lastSeq: db.prepare('SELECT last_seq FROM bus_streams WHERE stream = ?'),
    setLastSeq: db.prepare(
      'INSERT INTO bus_streams (stream, last_seq) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET last_seq = excluded.last_seq',
    ),
    findId: db.prepare('SELECT seq FROM bus_messages WHERE stream = ? AND msg_id = ? AND stored_at >= ? ORDER BY seq DESC LIMIT 1'),
    insertMessage: db.prepare(
      'INSERT INTO bus_messages (stream, seq, subject, msg_id, headers, data, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    consumer: db.prepare('SELECT pattern, next_seq FROM bus_consumers WHERE stream = ? AND name = ?'),
    insertConsumer: db.prepare('INSERT INTO bus_consumers (stream, name, pattern, next_seq) VALUES (?, ?, ?, ?)'),
    setNext: db.prepare('UPDATE bus_consumers SET next_seq = ? WHERE stream = ? AND name = ?'),
    deleteConsumer: db.prepare('DELETE FROM bus_consumers WHERE stream = ? AND name = ?'),
    dropExhausted: db.prepare('DELETE FROM bus_pending WHERE stream = ? AND consumer = ? AND due_at <= ? AND attempts >= ?'),
    due: db.prepare(
      `SELECT ${message}, p.attempts FROM bus_pending p JOIN bus_messages m ON m.stream = p.stream AND m.seq = p.seq
       WHERE p.stream = ? AND p.consumer = ? AND p.due_at <= ? ORDER BY p.seq LIMIT ?`,
    ),
    after: db.prepare(`SELECT ${message} FROM bus_messages m WHERE m.stream = ? AND m.seq >= ? ORDER BY m.seq LIMIT ?`),
    insertPending: db.prepare('INSERT OR REPLACE INTO bus_pending (stream, consumer, seq, attempts, due_at) VALUES (?, ?, ?, 1, ?)'),
    redeliver: db.prepare('UPDATE bus_pending SET attempts = attempts + 1, due_at = ? WHERE stream = ? AND consumer = ? AND seq = ?'),
    postpone: db.prepare('UPDATE bus_pending SET due_at = ? WHERE stream = ? AND consumer = ? AND seq = ?'),
    settle: db.prepare('DELETE FROM bus_pending WHERE stream = ? AND consumer = ? AND seq = ?'),
    nextDue: db.prepare('SELECT MIN(due_at) AS due FROM bus_pending WHERE stream = ? AND consumer = ?'),
    deletePending: db.prepare('DELETE FROM bus_pending WHERE stream = ? AND consumer = ?'),
    purgeMessages: db.prepare('DELETE FROM bus_messages WHERE stored_at < ?'),
    purgeOrphans: db.prepare(
      'DELETE FROM bus_pending WHERE NOT EXISTS (SELECT 1 FROM bus_messages m WHERE m.stream = bus_pending.stream AND m.seq = bus_pending.seq)',
    ),
  };
}
