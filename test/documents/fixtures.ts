import assert from 'node:assert/strict';
import type { EntityFields } from '../../src/documents/query/index.js';
import { isAppError } from '../../src/kernel/index.js';

export const ORDER: EntityFields = {
  customer: { type: 'string' },
  note: { type: 'text' },
  amount: { type: 'number' },
  count: { type: 'integer' },
  paid: { type: 'boolean' },
  status: { type: 'enum', values: ['open', 'paid'] },
  placedAt: { type: 'datetime' },
  tags: { type: 'array', items: { type: 'string' } },
  lines: { type: 'array', items: { type: 'json' } },
  meta: { type: 'json' },
};

/** The problems a validation failure lists, or fails the test when the call does not throw one. */
export function problems(work: () => unknown): { path: string; message: string }[] {
  try {
    work();
  } catch (error) {
    assert.ok(isAppError(error, 'validation_failed'), String(error));
    return error.details.errors ?? [];
  }
  assert.fail('expected validation_failed');
}
