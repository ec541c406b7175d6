import { createHash } from 'node:crypto';

/** A stable, UUID-shaped id from a route and parts (a source message id, a split index, a target index). */
export function deriveId(routeId: string, ...parts: string[]): string {
  const hex = createHash('sha256')
    .update([routeId, ...parts].join('\n'))
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
