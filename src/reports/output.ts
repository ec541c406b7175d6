import { Readable } from 'node:stream';
import type { CompiledReport } from './definition.js';

/** One CSV field per RFC 4180: quoted when it holds a quote, comma or line break; quotes doubled. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The groups as CSV: a header row (key names, then measure names), one row per group, CRLF line ends. */
export function csvStream(report: CompiledReport, groups: readonly Record<string, unknown>[]): Readable {
  const columns = [...report.keys.map((k) => k.name), ...report.measures.map((m) => m.name)];
  const line = (values: unknown[]) => `${values.map(csvField).join(',')}\r\n`;
  function* lines(): Generator<string> {
    yield line(columns);
    let chunk = '';
    for (const group of groups) {
      const key = group.key as Record<string, unknown>;
      chunk += line([...report.keys.map((k) => key[k.name]), ...report.measures.map((m) => group[m.name])]);
      if (chunk.length > 64 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
  return Readable.from(lines());
}

/** A Server-Sent Events block. */
export const sseEvent = (id: bigint, type: string, data: unknown) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
