import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientEndpoint, type CallContext, type ClientView, type EndpointSetObserver } from '../../../src';
import type { ClientControl, EndpointView } from '../../../src/core/view';
import {
  circuitBreaker,
  compose,
  DEFAULT_FAILURE_CODES,
  type BreakerStateChange,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type Middleware,
  type Next,
  type Timers,
} from '../../../src/middleware';
import { context } from '../../helpers/context';
import { readyEndpoints } from '../../helpers/ready-endpoints';

const { status: Status } = grpc;

class FakeTime implements Timers {
  t = 1_000;
  private seq = 0;
  private pending = new Map<number, { at: number; callback: () => void }>();
  now = (): number => this.t;
  setTimeout = (callback: () => void, ms: number): unknown => {
    this.pending.set(++this.seq, { at: this.t + ms, callback });
    return this.seq;
  };
  clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };
  get timers(): number {
    return this.pending.size;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.pending].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.t = due[1].at;
      due[1].callback();
    }
    this.t = end;
  }
}


function viewOf(list: ClientEndpoint[]): ClientView & { observers: Set<EndpointSetObserver> } {
  const observers = new Set<EndpointSetObserver>();
  return {
    service: 'svc',
    target: 'memory:///svc',
    endpoints: () => list,
    observe: (observer) => {
      observers.add(observer);
      return () => observers.delete(observer);
    },
    lastResolvedAt: () => 0,
    observers,
  };
}

/** The client's control over `list`, as createClient hands it to attach. */
function controlOf(list: readonly ClientEndpoint[]): ClientControl {
  const own = (endpoint: EndpointView) => list.find((candidate) => candidate === endpoint);
  return {
    eject: (endpoint, reason) => own(endpoint)?.setEjected(true, reason),
    restore: (endpoint, reason) => own(endpoint)?.setEjected(false, reason),
    channelOf: () => undefined,
  };
}

type Answer = grpc.status | Promise<grpc.status>;

/**
 * A transport stand-in: picks round robin over the available endpoints the call has not tried
 * (like the real picker), tells the middleware's `picked` hooks, then answers with what
 * `respond` says for the endpoint.
 */
function picker(list: readonly ClientEndpoint[], respond: (endpoint: ClientEndpoint) => Answer, hooks: Middleware[] = []) {
  const sent: string[] = [];
  let cursor = 0;
  const next: Next = async (ctx) => {
    ctx.resetOutcome();
    const available = list.filter((e) => e.available);
    const fresh = available.filter((e) => !ctx.tried.has(e.address));
    const from = fresh.length > 0 ? fresh : available;
    if (from.length === 0) {
      ctx.fail(Status.UNAVAILABLE, 'nothing to pick');
      return;
    }
    const endpoint = from[cursor++ % from.length];
    ctx.endpoint = endpoint;
    ctx.tried.add(endpoint.address);
    sent.push(endpoint.address);
    for (const hook of hooks) hook.picked?.(ctx, endpoint);
    const code = await respond(endpoint);
    ctx.fail(code, code === Status.OK ? '' : `${endpoint.address} says ${Status[code]}`);
  };
  return { next, sent };
}

function setup(options: CircuitBreakerOptions, n = 3, respond: (endpoint: ClientEndpoint) => Answer = () => Status.OK) {
  const time = new FakeTime();
  const list = readyEndpoints(n);
  const view = viewOf(list);
  const changes: BreakerStateChange[] = [];
  const breaker: CircuitBreaker = circuitBreaker({ now: time.now, timers: time, onStateChange: (c) => changes.push(c), ...options });
  const detach = breaker.attach!(view, controlOf(list)) as () => void;
  const transport = picker(list, (e) => responder(e), [breaker]);
  let responder = respond;
  const chain = compose([breaker], transport.next);
  const call = async (overrides: Partial<Parameters<typeof context>[0]> = {}) => {
    const ctx = context({ client: view, ...overrides });
    await chain(ctx);
    return ctx;
  };
  return {
    time,
    list,
    view,
    breaker,
    changes,
    detach,
    sent: transport.sent,
    chain,
    call,
    respond: (r: (endpoint: ClientEndpoint) => Answer) => {
      responder = r;
    },
  };
}

const deferred = () => {
  let resolve!: (code: grpc.status) => void;
  const promise = new Promise<grpc.status>((r) => (resolve = r));
  return { promise, resolve };
};

describe('circuitBreaker, endpoint scope', () => {
  test('consecutive failures open the breaker and eject the endpoint; it stops being picked', async () => {
    const s = setup({ consecutiveFailures: 3 });
    const [bad] = s.list;
    s.respond((e) => (e === bad ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 9; i++) await s.call();
    assert.equal(bad.ejected, true);
    assert.equal(s.breaker.state(bad.address), 'open');
    assert.equal(s.breaker.state(s.list[1].address), 'closed');
    assert.equal(s.breaker.state('10.9.9.9:1'), undefined);
    assert.deepEqual(
      s.changes.map((c) => [c.scope, c.key, c.service, c.from, c.to, c.reason]),
      [['endpoint', bad.address, 'svc', 'closed', 'open', '3 failures in a row']],
    );
    const before = s.sent.filter((a) => a === bad.address).length;
    for (let i = 0; i < 30; i++) await s.call();
    assert.equal(s.sent.filter((a) => a === bad.address).length, before, 'an open endpoint is not picked');
  });

  test('error rate over the window, once minSamples are in', async () => {
    const s = setup({ consecutiveFailures: 0, minSamples: 20, errorRate: 0.5 }, 3);
    const [bad] = s.list;
    let flip = true;
    // bad fails every other call it gets (its 2nd, 4th, …): 50 %. Only a failure is judged.
    s.respond((e) => (e === bad && (flip = !flip) ? Status.INTERNAL : Status.OK));
    for (let i = 0; i < 57; i++) await s.call();
    assert.equal(s.breaker.state(bad.address), 'closed', '19 samples: not judged yet');
    for (let i = 0; i < 3; i++) await s.call();
    assert.equal(s.breaker.state(bad.address), 'open');
    assert.match(s.changes[0].reason, /10 of 20 calls failed in the last 10 s/);
  });

  test('a low error rate does not trip it', async () => {
    const s = setup({ consecutiveFailures: 0, minSamples: 10, errorRate: 0.5 }, 1);
    let n = 0;
    s.respond(() => (n++ % 3 === 0 ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 300; i++) await s.call();
    assert.equal(s.breaker.state(s.list[0].address), 'closed');
  });

  test('the window slides: failures older than windowMs no longer count', async () => {
    const s = setup({ consecutiveFailures: 0, minSamples: 4, errorRate: 0.5, windowMs: 1_000, buckets: 10, maxEjectionShare: 1 }, 1);
    const [only] = s.list;
    s.respond(() => Status.UNAVAILABLE);
    await s.call();
    await s.call();
    s.time.advance(500);
    s.respond(() => Status.OK);
    await s.call();
    assert.deepEqual(pick(s.breaker.states()[0]), { samples: 3, failures: 2 });
    s.time.advance(600);
    assert.deepEqual(pick(s.breaker.states()[0]), { samples: 1, failures: 0 }, 'the first two slid out');
    s.respond(() => Status.UNAVAILABLE);
    await s.call();
    await s.call();
    assert.equal(s.breaker.state(only.address), 'closed', '2 of 3 recent: still under minSamples');
    await s.call();
    assert.equal(s.breaker.state(only.address), 'open');
    s.time.advance(20_000);
    assert.deepEqual(pick(s.breaker.states()[0]), { samples: 0, failures: 0 });
  });

  test('half-open after openMs: one probe at a time, success closes', async () => {
    const s = setup({ consecutiveFailures: 2, openMs: 5_000 });
    const [bad] = s.list;
    s.respond((e) => (e === bad ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 6; i++) await s.call();
    assert.equal(s.breaker.state(bad.address), 'open');
    s.time.advance(4_999);
    assert.equal(bad.ejected, true);
    s.time.advance(1);
    assert.equal(s.breaker.state(bad.address), 'half_open');
    assert.equal(bad.ejected, false, 'half-open: back in the picker for a probe');

    const probe = deferred();
    s.respond((e) => (e === bad ? probe.promise : Status.OK));
    const calls: Promise<CallContext>[] = [];
    for (let i = 0; i < 6; i++) calls.push(s.call());
    const toBad = s.sent.slice(-6).filter((a) => a === bad.address).length;
    assert.equal(toBad, 1, 'only one probe while it is in flight: the endpoint was ejected again');
    assert.equal(bad.ejected, true);
    probe.resolve(Status.OK);
    await Promise.all(calls);
    assert.equal(s.breaker.state(bad.address), 'closed');
    assert.equal(bad.ejected, false);
    assert.deepEqual(
      s.changes.map((c) => `${c.from}->${c.to}`),
      ['closed->open', 'open->half_open', 'half_open->closed'],
    );
    assert.equal(s.breaker.states().find((x) => x.key === bad.address)?.samples, 0, 'closing starts a fresh window');
  });

  test('a failed probe opens it again for another openMs', async () => {
    const s = setup({ consecutiveFailures: 1, openMs: 1_000 });
    const [bad] = s.list;
    s.respond((e) => (e === bad ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 3; i++) await s.call();
    s.time.advance(1_000);
    for (let i = 0; i < 3; i++) await s.call();
    assert.equal(s.breaker.state(bad.address), 'open');
    assert.equal(bad.ejected, true);
    assert.match(s.changes.at(-1)!.reason, /probe failed with UNAVAILABLE/);
    s.time.advance(999);
    assert.equal(s.breaker.state(bad.address), 'open');
    s.time.advance(1);
    assert.equal(s.breaker.state(bad.address), 'half_open');
  });

  test('halfOpenProbes: that many at once, and that many successes to close', async () => {
    const s = setup({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 2 }, 4);
    const [bad] = s.list;
    s.respond((e) => (e === bad ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 4; i++) await s.call();
    s.time.advance(1_000);
    const probes = [deferred(), deferred(), deferred()];
    let p = 0;
    s.respond((e) => (e === bad ? probes[p++].promise : Status.OK));
    const calls: Promise<CallContext>[] = [];
    for (let i = 0; i < 12; i++) calls.push(s.call());
    assert.equal(p, 2, 'two probes in flight, then ejected');
    probes[0].resolve(Status.OK);
    await calls[0];
    await new Promise((r) => setImmediate(r));
    assert.equal(s.breaker.state(bad.address), 'half_open', 'one success of two');
    assert.equal(bad.ejected, false, 'one probe in flight of two allowed: a slot is free again');
    probes[1].resolve(Status.OK);
    await Promise.all(calls);
    assert.equal(s.breaker.state(bad.address), 'closed');
  });

  test('a cancelled probe frees its slot without deciding anything', async () => {
    const s = setup({ consecutiveFailures: 1, openMs: 1_000 });
    const [bad] = s.list;
    s.respond((e) => (e === bad ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 3; i++) await s.call();
    s.time.advance(1_000);
    const probe = deferred();
    s.respond((e) => (e === bad ? probe.promise : Status.OK));
    const pending: Promise<unknown>[] = [];
    // Round robin reaches the bad endpoint within three calls; each gets its own context.
    const contexts = [0, 1, 2].map(() => context({ client: s.view }));
    for (const ctx of contexts) pending.push(s.chain(ctx));
    assert.equal(bad.ejected, true, 'held back while the probe runs');
    const probeCtx = contexts.find((ctx) => ctx.endpoint === bad)!;
    probeCtx.abort(Status.CANCELLED);
    probe.resolve(Status.CANCELLED);
    await Promise.all(pending);
    assert.equal(s.breaker.state(bad.address), 'half_open');
    assert.equal(bad.ejected, false, 'free for the next probe');
    s.respond(() => Status.OK);
    for (let i = 0; i < 3; i++) await s.call();
    assert.equal(s.breaker.state(bad.address), 'closed');
  });

  test('the max ejection share keeps enough endpoints in', async () => {
    const s = setup({ consecutiveFailures: 1, maxEjectionShare: 0.5 }, 3);
    s.respond(() => Status.UNAVAILABLE);
    for (let i = 0; i < 30; i++) await s.call();
    assert.equal(s.list.filter((e) => e.ejected).length, 1, 'floor(3 × 0.5) = 1');
    assert.equal(s.breaker.states().filter((x) => x.state === 'open').length, 1);
  });

  test('a lone endpoint is never ejected', async () => {
    const s = setup({ consecutiveFailures: 1 }, 1);
    s.respond(() => Status.UNAVAILABLE);
    for (let i = 0; i < 10; i++) await s.call();
    assert.equal(s.list[0].ejected, false);
    assert.equal(s.changes.length, 0);
  });

  test('which codes count: by default those that speak of the endpoint', async () => {
    assert.ok(DEFAULT_FAILURE_CODES.includes(Status.UNAVAILABLE));
    assert.ok(DEFAULT_FAILURE_CODES.includes(Status.DEADLINE_EXCEEDED));
    for (const code of [Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.PERMISSION_DENIED, Status.FAILED_PRECONDITION, Status.CANCELLED, Status.OK]) {
      assert.ok(!DEFAULT_FAILURE_CODES.includes(code), Status[code]);
    }
    const s = setup({ consecutiveFailures: 2 }, 2);
    s.respond(() => Status.INVALID_ARGUMENT);
    for (let i = 0; i < 20; i++) await s.call();
    assert.equal(s.changes.length, 0);
    const custom = setup({ consecutiveFailures: 2, failureCodes: [Status.INVALID_ARGUMENT] }, 2);
    custom.respond(() => Status.INVALID_ARGUMENT);
    for (let i = 0; i < 4; i++) await custom.call();
    assert.equal(custom.changes.length, 1);
  });

  test('our own cancel counts neither way', async () => {
    const s = setup({ consecutiveFailures: 2 }, 2);
    const [a] = s.list;
    s.respond((e) => (e === a ? Status.UNAVAILABLE : Status.OK));
    await s.call(); // a fails: one in a row
    await s.call(); // b
    const cancelled = context({ client: s.view });
    cancelled.abort(Status.CANCELLED);
    s.respond(() => Status.CANCELLED);
    await s.chain(cancelled);
    assert.equal(cancelled.endpoint, a);
    await s.call(); // b
    s.respond((e) => (e === a ? Status.UNAVAILABLE : Status.OK));
    await s.call(); // a fails: two in a row, the cancel between did not count
    assert.equal(s.sent.filter((x) => x === a.address).length, 3);
    assert.equal(s.breaker.state(a.address), 'open', 'the cancel between did not reset the run of failures');
  });

  test('a removed endpoint takes its breaker and timer with it; detach clears the rest', async () => {
    const s = setup({ consecutiveFailures: 1 }, 3);
    const [a, b] = s.list;
    s.respond((e) => (e === a ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 3; i++) await s.call();
    assert.equal(s.time.timers, 1);
    s.list.splice(0, 1);
    for (const observer of s.view.observers) observer.onEndpointRemoved?.(a);
    assert.equal(s.time.timers, 0);
    s.respond((e) => (e === b ? Status.UNAVAILABLE : Status.OK));
    for (let i = 0; i < 6; i++) await s.call();
    assert.equal(s.time.timers, 1);
    s.detach();
    assert.equal(s.time.timers, 0);
    assert.equal(s.view.observers.size, 0);
    assert.deepEqual(s.breaker.states(), []);
  });

  test('listeners added later hear changes; a throwing listener breaks nothing', async () => {
    const s = setup({ consecutiveFailures: 1 }, 2);
    const heard: string[] = [];
    const stop = s.breaker.onStateChange((c) => heard.push(c.to));
    s.breaker.onStateChange(() => {
      throw new Error('metrics bug');
    });
    s.respond((e) => (e === s.list[0] ? Status.UNAVAILABLE : Status.OK));
    await s.call();
    assert.deepEqual(heard, ['open']);
    stop();
    s.time.advance(10_000);
    assert.deepEqual(heard, ['open']);
    assert.equal(s.changes.length, 2);
  });
});

describe('circuitBreaker, service scope', () => {
  test('opens on failures and then fails fast with UNAVAILABLE naming the breaker and service', async () => {
    const s = setup({ scope: 'service', consecutiveFailures: 3, openMs: 2_000, name: 'payments' });
    s.respond(() => Status.UNAVAILABLE);
    for (let i = 0; i < 3; i++) await s.call();
    assert.equal(s.breaker.state('svc'), 'open');
    const sentBefore = s.sent.length;
    s.time.advance(500);
    const ctx = await s.call();
    assert.equal(s.sent.length, sentBefore, 'refused without sending');
    assert.equal(ctx.status?.code, Status.UNAVAILABLE);
    assert.match(ctx.status!.details, /^payments circuit breaker is open for "svc" \(memory:\/\/\/svc\): 3 failures in a row; probing again in 1\.5 s$/);
    assert.equal(ctx.status?.metadata.get('grpc-retry-pushback-ms')[0], '1500');
    assert.equal(s.list.some((e) => e.ejected), false, 'a service breaker ejects nothing');
  });

  test('after openMs one probe goes through; others are refused while it runs; success closes', async () => {
    const s = setup({ scope: 'service', consecutiveFailures: 1, openMs: 1_000 });
    s.respond(() => Status.UNAVAILABLE);
    await s.call();
    s.time.advance(1_000);
    assert.equal(s.breaker.state('svc'), 'half_open');
    const probe = deferred();
    s.respond(() => probe.promise);
    const first = s.call();
    const second = await s.call();
    assert.equal(second.status?.code, Status.UNAVAILABLE);
    assert.match(second.status!.details, /half-open .* waiting for 1 probe/);
    probe.resolve(Status.OK);
    assert.equal((await first).status?.code, Status.OK);
    assert.equal(s.breaker.state('svc'), 'closed');
    s.respond(() => Status.OK);
    assert.equal((await s.call()).status?.code, Status.OK);
    assert.deepEqual(
      s.changes.map((c) => `${c.from}->${c.to}`),
      ['closed->open', 'open->half_open', 'half_open->closed'],
    );
  });

  test('a failed probe reopens it', async () => {
    const s = setup({ scope: 'service', consecutiveFailures: 1, openMs: 1_000 });
    s.respond(() => Status.DEADLINE_EXCEEDED);
    await s.call();
    s.time.advance(1_000);
    await s.call();
    assert.equal(s.breaker.state('svc'), 'open');
    assert.equal((await s.call()).status?.code, Status.UNAVAILABLE);
  });

  test('key: one breaker per method', async () => {
    const s = setup({ scope: 'service', consecutiveFailures: 2, key: (ctx) => ctx.method });
    s.respond(() => Status.UNAVAILABLE);
    await s.call({ method: '/pkg.Svc/A' });
    await s.call({ method: '/pkg.Svc/A' });
    s.respond(() => Status.OK);
    assert.equal((await s.call({ method: '/pkg.Svc/B' })).status?.code, Status.OK);
    const refused = await s.call({ method: '/pkg.Svc/A' });
    assert.equal(refused.status?.code, Status.UNAVAILABLE);
    assert.match(refused.status!.details, /key "\/pkg.Svc\/A"/);
    assert.deepEqual(
      s.breaker
        .states()
        .map((x) => [x.key, x.state])
        .sort(),
      [
        ['/pkg.Svc/A', 'open'],
        ['/pkg.Svc/B', 'closed'],
      ],
    );
  });

  test('one breaker per client: another client of the same service is unaffected', async () => {
    const s = setup({ scope: 'service', consecutiveFailures: 1 });
    s.respond(() => Status.UNAVAILABLE);
    await s.call();
    const other = viewOf(readyEndpoints(1));
    s.respond(() => Status.OK);
    const ctx = await s.call({ client: other });
    assert.equal(ctx.status?.code, Status.OK);
  });
});

describe('circuitBreaker options', () => {
  test('rejects bad options at construction, naming the field', () => {
    const cases: [CircuitBreakerOptions, RegExp][] = [
      [{ scope: 'global' as never }, /options.scope must be 'endpoint' or 'service'/],
      [{ errorRate: 0 }, /options.errorRate must be a number in \(0, 1\]/],
      [{ errorRate: 1.5 }, /options.errorRate/],
      [{ minSamples: 0 }, /options.minSamples must be an integer >= 1/],
      [{ windowMs: 0 }, /options.windowMs/],
      [{ buckets: 0 }, /options.buckets/],
      [{ consecutiveFailures: -1 }, /options.consecutiveFailures must be an integer >= 0/],
      [{ openMs: -5 }, /options.openMs/],
      [{ halfOpenProbes: 0 }, /options.halfOpenProbes/],
      [{ failureCodes: [] }, /options.failureCodes must be a non-empty array/],
      [{ maxEjectionShare: 0 }, /options.maxEjectionShare must be a number in \(0, 1\]/],
      [{ key: () => 'x' }, /options.key applies to scope 'service' only/],
      [{ scope: 'service', maxEjectionShare: 0.3 }, /options.maxEjectionShare applies to scope 'endpoint' only/],
      [{ scope: 'service', key: 'x' as never }, /options.key must be a function/],
      [{ scope: 'service', name: '' }, /options.name must be a non-empty string/],
      [{ timers: { setTimeout: () => 1 } as never }, /options.timers must have/],
      [{ onStateChange: 1 as never }, /options.onStateChange must be a function/],
    ];
    for (const [options, message] of cases) {
      // Durations and sizes out of range are RangeErrors (durationOption's), the rest TypeErrors.
      assert.throws(
        () => circuitBreaker(options),
        (error: unknown) => (error instanceof TypeError || error instanceof RangeError) && message.test(error.message) && error.message.startsWith('circuitBreaker:'),
        JSON.stringify(options),
      );
    }
  });

  test('is a middleware with its scope on view; only the endpoint scope watches picks', () => {
    assert.equal(circuitBreaker().scope, 'endpoint');
    assert.equal(circuitBreaker({ scope: 'service' }).scope, 'service');
    assert.equal(typeof circuitBreaker().attach, 'function');
    assert.equal(typeof circuitBreaker().picked, 'function');
    assert.equal(circuitBreaker({ scope: 'service' }).picked, undefined);
  });
});

function pick(snapshot: { samples: number; failures: number } | undefined) {
  return snapshot && { samples: snapshot.samples, failures: snapshot.failures };
}
