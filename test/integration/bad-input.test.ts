import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { circuitBreaker, createClient, hedge, memoryResolver, retry, timeout, type Logger } from '../../src';
import { eventually, isError, outcome, testBed } from '../helpers/calls';
import { EchoClient } from '../helpers/echo-server';

const { start, client } = testBed();

const TOO_LONG = 2 ** 31;

/** A logger that keeps every line. */
function capture() {
  const lines: { level: string; fields: Record<string, unknown>; message?: string }[] = [];
  const at =
    (level: string) =>
    (fields: object, message?: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('bad input is refused at construction, naming the option', () => {
  test('a breaker window of 2^31 buckets', () => {
    assert.throws(() => circuitBreaker({ buckets: TOO_LONG }), (e: Error) => e instanceof RangeError && /circuitBreaker: options.buckets must be at most 1000/.test(e.message));
    assert.throws(() => circuitBreaker({ buckets: 100, windowMs: 50 }), /buckets of at least 1 ms/);
  });

  test('durations a timer cannot hold (above 2^31-1 ms)', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => createClient(EchoClient, { target: 'static:///127.0.0.1:1', connectTimeoutMs: TOO_LONG }), /createClient: options.connectTimeoutMs must be a duration in ms from 1 to 2147483647/],
      [() => createClient(EchoClient, { target: 'static:///127.0.0.1:1', healthCheck: { timeoutMs: TOO_LONG } }), /options.healthCheck.timeoutMs/],
      [() => createClient(EchoClient, { target: 'static:///127.0.0.1:1', healthCheck: { intervalMs: TOO_LONG } }), /options.healthCheck.intervalMs/],
      [() => hedge({ delayMs: TOO_LONG }), /hedge: options.delayMs must be a duration/],
      [() => retry({ maxBackoffMs: TOO_LONG }), /retry: options.maxBackoffMs must be a duration/],
      [() => retry({ attemptTimeoutMs: TOO_LONG }), /retry: options.attemptTimeoutMs must be a duration/],
      [() => circuitBreaker({ openMs: TOO_LONG }), /circuitBreaker: options.openMs must be a duration/],
      [() => circuitBreaker({ windowMs: TOO_LONG }), /circuitBreaker: options.windowMs must be a duration/],
      [() => timeout(TOO_LONG), /timeout\(ms\): ms must be a duration/],
    ];
    for (const [make, message] of cases) assert.throws(make, (e: Error) => e instanceof RangeError && message.test(e.message), String(message));
  });

  test('a breaker with 1,000 buckets answers at once after any idle time', async () => {
    const [s] = await start(1);
    let clock = 0;
    const breaker = circuitBreaker({ scope: 'service', buckets: 1_000, now: () => clock });
    const c = client({ target: `static:///${s.address}`, middleware: [breaker] });
    assert.ok(!isError(await outcome(c)));
    for (const idle of [500, 9_999, 10 ** 12]) {
      clock += idle;
      const started = performance.now();
      assert.ok(!isError(await outcome(c)));
      assert.ok(performance.now() - started < 500, `a call after ${idle} ms idle took ${performance.now() - started} ms`);
    }
  });
});

describe('messages that quote input are bounded and escaped', () => {
  test('a resolver list with a 1 MB address, control characters and a bigint', async () => {
    const [s] = await start(1);
    const { logger, lines } = capture();
    const resolver = memoryResolver();
    const c = client({ resolver, service: 'echo', logger });
    const errors: Error[] = [];
    c.observe({ onResolveError: (e) => errors.push(e) });
    const huge = 'h'.repeat(1 << 20);
    resolver.set('echo', [s.address, huge, 'evil\r\nforged: line:1', { address: 5n as never }]);
    await eventually(() => errors.length > 0, 2_000, 'the bad instances reported');
    assert.ok(!isError(await outcome(c)), 'the good instance serves');
    const message = errors[0].message;
    assert.ok(message.length < 2_000, `message of ${message.length} chars`);
    assert.doesNotMatch(message, /[\r\n]/, 'no raw line breaks');
    assert.match(message, /bigint/);
    for (const line of lines) {
      const text = JSON.stringify(line.fields) + (line.message ?? '');
      assert.ok(text.length < 4_000, `a ${line.level} line of ${text.length} chars`);
      assert.doesNotMatch(`${line.message ?? ''}${String(line.fields.err ?? '')}`, /[\r\n]/);
    }
  });

  test('a service breaker keyed by a huge key with line breaks refuses with a bounded, escaped message', async () => {
    const [s] = await start(1);
    s.behaviour = { failCode: grpc.status.UNAVAILABLE };
    const key = `tenant\r\n${'k'.repeat(1 << 20)}`;
    const breaker = circuitBreaker({ scope: 'service', consecutiveFailures: 1, key: () => key });
    const c = client({ target: `static:///${s.address}`, middleware: [breaker] });
    await outcome(c);
    const refused = await outcome(c);
    assert.ok(isError(refused));
    assert.match(refused.details, /circuit breaker is open/);
    assert.ok(refused.details.length < 1_000, `details of ${refused.details.length} chars`);
    assert.doesNotMatch(refused.details, /[\r\n]/);
  });
});
