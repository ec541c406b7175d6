import type { Logger } from '../kernel/index.js';
import type { Bus, Subscription } from '../messaging/port.js';
import { noticeSubject } from '../messaging/subjects.js';
import type { BatchNotice } from './batch.js';

const SOURCE = 'report';
const TOPIC = 'groups';
/**
 * The group views one notice carries at most, in bytes of JSON: a larger batch is sent in parts
 * (the broker refuses a message over its `max_payload`, 1 MiB by default).
 */
export const NOTICE_PART_BYTES = 256 * 1024;

type Listener = (notice: BatchNotice) => void;

/**
 * The groups each batch changed in the serving version of a report, from whichever process committed
 * it to the live viewers on every process: a notice on the bus (`<root>.<tenant>.notices.report.<name>.groups`,
 * never stored; docs/operations.md). At most once: a viewer that misses one reads the data again.
 */
export interface ReportNotices {
  /** Sends a committed batch's notice (in parts when large); a bus that fails is logged, never thrown. */
  publish(notice: BatchNotice): void;
  /** The notices of one report, whichever process committed them. */
  subscribe(tenant: string, report: string, listener: Listener): () => void;
  close(): Promise<void>;
}

/**
 * Listens to every report's notices once for the process. `heard` learns each notice's position, so
 * that the process's own processor takes a batch another process committed instead of redoing it.
 */
export async function openReportNotices(bus: Bus, logger: Logger, heard: (position: bigint) => void): Promise<ReportNotices> {
  const listeners = new Map<string, Set<Listener>>();
  const key = (tenant: string, report: string) => `${tenant}/${report}`;
  let failing = false;
  const subscription: Subscription = await bus.listen(noticeSubject(bus.root, '*', SOURCE, '*', TOPIC), (message) => {
    const notice = parseNotice(message.data);
    if (!notice) return logger.warn({ subject: message.subject }, 'ignored a malformed report notice');
    heard(notice.position);
    for (const listener of listeners.get(key(notice.tenant, notice.report)) ?? []) listener(notice);
  });

  return {
    publish(notice) {
      const subject = noticeSubject(bus.root, notice.tenant, SOURCE, notice.report, TOPIC);
      try {
        for (const data of noticeParts(notice)) bus.notify({ subject, data });
        failing = false;
      } catch (error) {
        // Once per outage: every batch would say the same.
        if (!failing)
          logger.warn({ err: error, subject }, 'report notices cannot be sent; live viewers miss changes until the bus answers');
        failing = true;
      }
    },
    subscribe(tenant, report, listener) {
      const own = listeners.get(key(tenant, report)) ?? new Set<Listener>();
      listeners.set(key(tenant, report), own.add(listener));
      return () => {
        own.delete(listener);
        if (own.size === 0) listeners.delete(key(tenant, report));
      };
    },
    close: () => subscription.stop(),
  };
}

/** The notice as JSON messages of at most NOTICE_PART_BYTES of group views each (a single larger view goes alone). */
export function noticeParts(notice: BatchNotice): Buffer[] {
  const head = `{"tenant":${JSON.stringify(notice.tenant)},"report":${JSON.stringify(notice.report)},"version":${notice.version},"position":"${notice.position}","groups":[`;
  const parts: Buffer[] = [];
  let views: string[] = [];
  let bytes = 0;
  const flush = () => {
    parts.push(Buffer.from(`${head}${views.join(',')}]}`));
    views = [];
    bytes = 0;
  };
  for (const group of notice.groups) {
    const view = JSON.stringify(group);
    if (views.length > 0 && bytes + view.length > NOTICE_PART_BYTES) flush();
    views.push(view);
    bytes += view.length + 1;
  }
  if (views.length > 0) flush();
  return parts;
}

/** A notice heard on the bus, or undefined when it is not one (anyone with access to the broker may publish). */
export function parseNotice(data: Uint8Array): BatchNotice | undefined {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { tenant, report, version, position, groups } = body as Record<string, unknown>;
  const valid =
    typeof tenant === 'string' &&
    typeof report === 'string' &&
    Number.isSafeInteger(version) &&
    typeof position === 'string' &&
    /^[0-9]{1,19}$/.test(position) &&
    Array.isArray(groups) &&
    groups.every((group) => typeof group === 'object' && group !== null && !Array.isArray(group));
  if (!valid) return undefined;
  return { tenant, report, version: version as number, position: BigInt(position), groups: groups as Record<string, unknown>[] };
}
