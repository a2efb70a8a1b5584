import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { compose, type Next } from '../../../src';
import { hedge } from '../../../src/middleware/hedge';
import { metrics } from '../../../src/middleware/metrics';
import { retry } from '../../../src/middleware/retry';

const terminal: Next = async () => undefined;

describe('metrics: its places in a chain', () => {
  test('the call level goes outside retry and hedging, the attempt level inside; compose() says so', () => {
    const m = metrics({ registry: new Registry() });
    assert.doesNotThrow(() => compose([m, retry({ budget: false }), m.attempts], terminal));
    assert.doesNotThrow(() => compose([m, hedge({ delayMs: 10, budget: false }), m.attempts], terminal));
    assert.throws(() => compose([retry({ budget: false }), m], terminal), /call-metrics must be outside retry/);
    assert.throws(() => compose([m.attempts, hedge({ delayMs: 10, budget: false })], terminal), /attempt-metrics/);
  });
});
