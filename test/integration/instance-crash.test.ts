import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { circuitBreaker, memoryResolver, metrics, retry, timeout, type BreakerStateChange, type RetryOptions } from '../../src';
import { eventually, sleep, testBed, type Echo } from '../helpers/calls';
import { startChildServer } from '../helpers/child-server';

const { start, client, closeLater } = testBed();

const IN_FLIGHT = 64;

interface Run {
  failed: number;
  refused: number;
  ok: number;
  inflightAtKill: number;
  /** Calls that succeeded after the kill. */
  okAfterKill: number;
  serviceTransitions: BreakerStateChange[];
}

/**
 * Three instances under 64 calls in flight, the README's chain; the third, in a process of its
 * own, answers after 50 ms, its response headers sent first, and is killed with SIGKILL mid-run.
 */
async function crashUnderLoad(retryOptions: RetryOptions): Promise<Run> {
  const survivors = await start(2);
  for (const s of survivors) s.behaviour = { headersFirst: true, delayMs: 50 };
  const victim = await startChildServer({ name: 'victim', behaviour: { headersFirst: true, delayMs: 50 } });
  closeLater(() => void victim.kill('SIGKILL'));
  const resolver = memoryResolver();
  resolver.set('echo', [...survivors.map((s) => s.address), victim.address]);
  const m = metrics({ registry: new Registry() });
  const service = circuitBreaker({ scope: 'service' });
  const serviceTransitions: BreakerStateChange[] = [];
  service.onStateChange((change) => serviceTransitions.push(change));
  const c: Echo = client({
    resolver,
    service: 'echo',
    middleware: [m, timeout(2_000), service, retry(retryOptions), circuitBreaker({ scope: 'endpoint' }), m.attempts],
  });
  await c.ready();
  const run: Run = { failed: 0, refused: 0, ok: 0, inflightAtKill: 0, okAfterKill: 0, serviceTransitions };
  let killed = false;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      try {
        await c.async.Unary({ message: 'x' });
        run.ok++;
        if (killed) run.okAfterKill++;
      } catch (error) {
        if (/circuit breaker is (open|half-open)/.test((error as grpc.ServiceError).details)) run.refused++;
        else {
          run.failed++;
          if (process.env.DEBUG_CRASH) console.log('FAILED', (error as grpc.ServiceError).code, (error as grpc.ServiceError).details);
        }
      }
    }
  };
  const workers = Array.from({ length: IN_FLIGHT }, worker);
  await eventually(() => (c.endpoints().find((e) => e.address === victim.address)?.inflight ?? 0) >= 5, 5_000, 'calls in flight on the victim');
  await sleep(200);
  run.inflightAtKill = c.endpoints().find((e) => e.address === victim.address)!.inflight;
  await victim.kill('SIGKILL');
  killed = true;
  await sleep(1_500);
  stop = true;
  await Promise.all(workers);
  return run;
}

describe('one instance of three crashes under load (SIGKILL, calls in flight after headers)', () => {
  test('the service breaker never opens; only the calls that were on the dead instance fail', async () => {
    const run = await crashUnderLoad({ maxAttempts: 3 });
    assert.ok(run.inflightAtKill > 0);
    assert.deepEqual(
      run.serviceTransitions.map((c) => `${c.from}->${c.to} (${c.reason})`),
      [],
      'the service breaker changed state',
    );
    assert.equal(run.refused, 0, 'no call refused by a breaker');
    assert.ok(run.failed <= run.inflightAtKill, `${run.failed} failed, ${run.inflightAtKill} were in flight on the dead instance`);
    assert.ok(run.okAfterKill >= IN_FLIGHT, `calls kept flowing after the kill: ${run.okAfterKill}`);
  });

  test('with the method marked idempotent, no call fails at all', async () => {
    const run = await crashUnderLoad({ maxAttempts: 3, idempotent: ['Unary'] });
    assert.ok(run.inflightAtKill > 0);
    assert.equal(run.failed, 0, `${run.failed} failed`);
    assert.equal(run.refused, 0);
    assert.deepEqual(run.serviceTransitions, []);
  });
});
