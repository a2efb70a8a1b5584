import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { circuitBreaker, memoryResolver, metrics, retry, timeout, type Logger } from '../../src';
import { eventually, outcome, testBed } from '../helpers/calls';

const { start, client, closeLater } = testBed();

interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

function capture() {
  const lines: Line[] = [];
  const at =
    (level: Line['level']) =>
    (fields: object, message?: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message: message ?? '' });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const find = (level: Line['level'], pattern: RegExp) => lines.filter((l) => l.level === level && pattern.test(l.message));
  return { logger, lines, find };
}

describe('operations are told at the levels a user expects', () => {
  test('membership changes and breaker transitions at info, ejections, connect timeouts and resolver errors at warn', async () => {
    const [a, b, bad] = await start(3);
    bad.behaviour = { failCode: grpc.status.UNAVAILABLE };
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closeLater(() => silent.close());
    const silentAddress = `127.0.0.1:${(silent.address() as { port: number }).port}`;

    const { logger, find } = capture();
    const resolver = memoryResolver();
    resolver.set('echo', [a.address, b.address]);
    const service = circuitBreaker({ scope: 'service', consecutiveFailures: 3, openMs: 100 });
    const c = client({
      resolver,
      service: 'echo',
      logger,
      connectTimeoutMs: 200,
      middleware: [timeout(2_000), service, retry({ maxAttempts: 2, budget: false }), circuitBreaker({ scope: 'endpoint', consecutiveFailures: 2 })],
    });
    await c.ready();
    const joined = find('info', /endpoints changed/);
    assert.equal(joined.length, 1);
    assert.deepEqual(joined[0].fields.added, [a.address, b.address]);

    // A failing instance joins, and a black hole: an ejection and a connect timeout.
    resolver.set('echo', [a.address, b.address, bad.address, silentAddress]);
    await eventually(() => c.endpoints().find((e) => e.address === bad.address)?.available === true);
    for (let i = 0; i < 12; i++) await outcome(c);
    await eventually(() => find('warn', /ejected by circuit breaker/).length > 0, 3_000, 'ejection warned');
    assert.equal(find('warn', /ejected by circuit breaker/)[0].fields.address, bad.address);
    await eventually(() => find('warn', /connect timeout/).length > 0, 3_000, 'connect timeout warned');
    assert.equal(find('warn', /connect timeout/)[0].fields.address, silentAddress);
    assert.ok(find('info', /endpoint circuit breaker opened/).length > 0, 'the endpoint breaker transition at info');

    // The instances leave; the resolver fails.
    resolver.set('echo', [a.address, b.address]);
    const left = find('info', /endpoints changed/).at(-1)!;
    assert.deepEqual([...(left.fields.removed as string[])].sort(), [bad.address, silentAddress].sort());
    resolver.fail('echo', new Error('registry down'));
    assert.ok(find('warn', /resolver error/).some((l) => /registry down/.test(String(l.fields.err))));

    // Every instance fails: the service breaker opens and says so.
    a.behaviour = b.behaviour = { failCode: grpc.status.UNAVAILABLE };
    for (let i = 0; i < 4; i++) await outcome(c);
    const opened = find('info', /service circuit breaker opened/);
    assert.equal(opened.length, 1);
    assert.equal(opened[0].fields.service, 'echo');
    assert.match(String(opened[0].fields.reason), /3 failures in a row/);
  });

  test('metrics count the transitions of the breakers in the same chain without a breakers option', async () => {
    const [good, bad] = await start(2);
    bad.behaviour = { failCode: grpc.status.UNAVAILABLE };
    const registry = new Registry();
    const m = metrics({ registry });
    const resolver = memoryResolver();
    resolver.set('echo', [good.address, bad.address]);
    const c = client({ resolver, service: 'echo', middleware: [m, circuitBreaker({ scope: 'service' }), circuitBreaker({ consecutiveFailures: 2, openMs: 60_000 }), m.attempts] });
    await c.ready();
    for (let i = 0; i < 10; i++) await outcome(c);
    await eventually(() => c.endpoints().some((e) => e.ejected), 3_000, 'the failing endpoint ejected');
    const text = await registry.metrics();
    assert.match(text, /grpc_lb_breaker_transitions_total\{lb_service="echo",scope="endpoint",from="closed",to="open"\} 1/);
    assert.match(text, /grpc_lb_breakers\{lb_service="echo",scope="endpoint",state="open"\} 1/);
    assert.match(text, /grpc_lb_breakers\{lb_service="echo",scope="service",state="closed"\} 1/);
  });
});
