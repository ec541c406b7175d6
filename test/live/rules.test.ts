import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../../src/kernel/index.js';
import { LiveHub } from '../../src/live/hub.js';
import { PATTERN_LIMITS, parsePatterns } from '../../src/live/patterns.js';

const order = { module: 'sales', entity: 'order' };
const line = { module: 'sales', entity: 'order_line' };

describe('live event patterns', () => {
  it('matches every event, record or not, when none is given', () => {
    const patterns = parsePatterns(undefined);
    assert.equal(patterns.all, true);
    assert.ok(patterns.matches(undefined, 'UserChanged'));
    assert.ok(patterns.matches(order, 'OrderPaid'));
  });

  it('matches whole segments, * standing for any one', () => {
    const patterns = parsePatterns('sales.order.*, sales.*.Order_lineCreated,crm.customer.CustomerCreated');
    assert.ok(patterns.matches(order, 'OrderPaid'));
    assert.ok(patterns.matches(line, 'Order_lineCreated'));
    assert.ok(!patterns.matches(line, 'Order_lineDeleted'));
    assert.ok(!patterns.matches({ module: 'salesx', entity: 'order' }, 'OrderPaid'));
    assert.ok(patterns.matches({ module: 'crm', entity: 'customer' }, 'CustomerCreated'));
  });

  it('selects record events only once a pattern is given, even *.*.*', () => {
    const patterns = parsePatterns('*.*.*');
    assert.ok(patterns.matches(order, 'OrderCreated'));
    assert.ok(!patterns.matches(undefined, 'ModuleDefined'));
  });

  it('refuses malformed patterns with validation_failed at /querystring/events', () => {
    const many = Array.from({ length: PATTERN_LIMITS.patterns + 1 }, () => 'a.b.C').join(',');
    for (const text of [
      '',
      'sales',
      'sales.order',
      'sales.order.*.x',
      'Sales.order.*',
      'sales.order.paid',
      'sales.ord*.X',
      'a.b.C,',
      many,
    ]) {
      assert.throws(
        () => parsePatterns(text),
        (error: unknown) => isAppError(error, 'validation_failed') && error.details.errors?.[0]?.path === '/querystring/events',
        text,
      );
    }
  });
});

describe('live connection limits', () => {
  const hub = () => new LiveHub({} as never, { perTenant: 2, total: 3 }, () => undefined);

  it('limits streams per tenant and per process, and gives a slot back once', () => {
    const live = hub();
    const first = live.reserve('a');
    live.reserve('a');
    assert.throws(
      () => live.reserve('a'),
      (error: unknown) => isAppError(error, 'rate_limited'),
    );
    live.reserve('b');
    assert.throws(
      () => live.reserve('c'),
      (error: unknown) => isAppError(error, 'rate_limited'),
    );
    first();
    first();
    live.reserve('c');
    assert.throws(
      () => live.reserve('a'),
      (error: unknown) => isAppError(error, 'rate_limited'),
    );
  });

  it('refuses new streams once shutting down', () => {
    const live = hub();
    live.shutdown();
    assert.throws(
      () => live.reserve('a'),
      (error: unknown) => isAppError(error, 'unavailable'),
    );
  });
});
