import { status as Status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BreakerMachine, type MachineConfig, type MachineOwner, type OpenVerdict } from '../../../src/middleware/breaker/machine';
import { FailurePolicy } from '../../../src/middleware/breaker/policy';
import type { BreakerState, OpenPolicy, PolicyCounts } from '../../../src/middleware/breaker/types';
import { circuitBreaker } from '../../../src/middleware';

/** A policy that opens on the failure it is told to, and says what it was told. */
class ScriptedPolicy implements OpenPolicy {
  told: string[] = [];
  opens: string | undefined = undefined;
  success(): void {
    this.told.push('success');
  }
  failure(address: string | undefined): string | undefined {
    this.told.push(`failure ${address ?? '-'}`);
    return this.opens;
  }
  reset(): void {
    this.told.push('reset');
  }
  counts(): PolicyCounts {
    return { samples: 0, failures: 0, consecutiveFailures: 0 };
  }
}

class Owner implements MachineOwner {
  changes: [BreakerState, BreakerState, string][] = [];
  verdict: OpenVerdict = true;
  changed(machine: BreakerMachine, from: BreakerState, reason: string): void {
    this.changes.push([from, machine.state, reason]);
  }
  beforeOpen(): OpenVerdict {
    return this.verdict;
  }
}

function machine(extra: Partial<MachineConfig> = {}) {
  let t = 0;
  const policy = new ScriptedPolicy();
  const owner = new Owner();
  const config: MachineConfig = { openMs: 1_000, halfOpenProbes: 2, now: () => t, ...extra };
  const m = new BreakerMachine(config, policy, owner, '10.0.0.1:1', 'svc', 'memory:///svc');
  return { m, policy, owner, advance: (ms: number) => (t += ms) };
}

describe('BreakerMachine', () => {
  test('closed: outcomes go to the policy; its reason opens the machine until openMs have passed', () => {
    const { m, policy, owner, advance } = machine();
    m.success();
    m.failure(Status.UNAVAILABLE, '10.0.0.1:1');
    assert.equal(m.state, 'closed');
    policy.opens = '2 failures in a row';
    m.failure(Status.UNAVAILABLE, undefined);
    assert.deepEqual(policy.told, ['success', 'failure 10.0.0.1:1', 'failure -']);
    assert.equal(m.state, 'open');
    assert.equal(m.reason, '2 failures in a row');
    assert.equal(m.admitting, false);
    assert.deepEqual(owner.changes, [['closed', 'open', '2 failures in a row']]);
    m.success();
    m.failure(Status.UNAVAILABLE, undefined);
    assert.equal(policy.told.length, 3, 'an open machine judges nothing');
    advance(999);
    m.refresh();
    assert.equal(m.state, 'open');
    assert.equal(m.openForMs(), 1);
    advance(1);
    m.refresh();
    assert.equal(m.state, 'half_open');
    assert.deepEqual(owner.changes.at(-1), ['open', 'half_open', 'open for 1 s']);
  });

  test('half-open: probe slots, successes close it and reset the policy, a failure reopens it', () => {
    const { m, policy, owner, advance } = machine();
    policy.opens = 'tripped';
    m.failure(Status.INTERNAL, undefined);
    advance(1_000);
    m.refresh();
    m.probeStarted();
    assert.equal(m.admitting, true, 'one of two slots taken');
    m.probeStarted();
    assert.equal(m.admitting, false, 'both slots taken');
    assert.equal(m.probes, 2);
    m.probeEnded();
    m.success();
    assert.equal(m.state, 'half_open', 'one success of two');
    m.probeEnded();
    m.success();
    assert.equal(m.state, 'closed');
    assert.equal(policy.told.at(-1), 'reset');
    assert.deepEqual(owner.changes.at(-1), ['half_open', 'closed', '2 probe(s) succeeded']);

    m.failure(Status.INTERNAL, undefined);
    advance(1_000);
    m.refresh();
    m.failure(Status.DEADLINE_EXCEEDED, undefined);
    assert.equal(m.state, 'open');
    assert.equal(m.reason, 'probe failed with DEADLINE_EXCEEDED');
  });

  test('beforeOpen: false keeps the state; a reason closes a half-open machine and leaves a closed one closed', () => {
    const { m, policy, owner, advance } = machine();
    policy.opens = 'tripped';
    owner.verdict = false;
    m.failure(Status.UNAVAILABLE, undefined);
    assert.equal(m.state, 'closed');
    owner.verdict = 'tripped, but not now';
    m.failure(Status.UNAVAILABLE, undefined);
    assert.equal(m.state, 'closed');
    assert.equal(owner.changes.length, 0);
    owner.verdict = true;
    m.failure(Status.UNAVAILABLE, undefined);
    advance(1_000);
    m.refresh();
    owner.verdict = 'probe failed, but not now';
    m.failure(Status.UNAVAILABLE, undefined);
    assert.equal(m.state, 'closed');
    assert.deepEqual(owner.changes.at(-1), ['half_open', 'closed', 'probe failed, but not now']);
  });

  test('with timers it turns half-open when the timer fires, whatever the clock says; dispose clears the timer', () => {
    const pending = new Map<number, () => void>();
    let seq = 0;
    const timers = {
      setTimeout: (callback: () => void) => {
        pending.set(++seq, callback);
        return seq;
      },
      clearTimeout: (handle: unknown) => void pending.delete(handle as number),
    };
    const { m, policy } = machine({ timers });
    policy.opens = 'tripped';
    m.failure(Status.UNAVAILABLE, undefined);
    assert.equal(pending.size, 1);
    const [fire] = pending.values();
    pending.clear();
    fire();
    assert.equal(m.state, 'half_open', 'the clock has not moved: the timer is the signal');
    m.failure(Status.UNAVAILABLE, undefined);
    assert.equal(pending.size, 1, 'reopened: a new timer');
    m.dispose();
    assert.equal(pending.size, 0);
  });
});

describe('FailurePolicy', () => {
  test('sets aside the failures of the one endpoint something else deals with', () => {
    const config = { errorRate: 0.5, minSamples: 4, windowMs: 1_000, buckets: 10, bucketMs: 100, consecutiveFailures: 3, now: () => 0 };
    let handled = true;
    const policy = new FailurePolicy(config, (address) => handled && address === 'a');
    assert.equal(policy.failure('a'), undefined);
    assert.equal(policy.failure('a'), undefined);
    assert.equal(policy.failure('a'), undefined, 'three in a row, all from a, which is dealt with');
    assert.equal(policy.failure('b'), undefined, 'without a: one in a row; the window without a is too small');
    handled = false;
    assert.equal(policy.failure('a'), '5 failures in a row');
    assert.deepEqual(policy.counts(), { samples: 5, failures: 5, consecutiveFailures: 5 });
    policy.reset();
    assert.deepEqual(policy.counts(), { samples: 0, failures: 0, consecutiveFailures: 0 });
  });
});

test('an endpoint breaker attached without the client control refuses, naming what is missing', () => {
  const view = { service: 'svc', target: 'memory:///svc', endpoints: () => [], observe: () => () => undefined, lastResolvedAt: () => 0 };
  assert.throws(() => circuitBreaker().attach!(view), /circuitBreaker: an endpoint breaker ejects through the client's control/);
  assert.equal(typeof circuitBreaker({ scope: 'service' }).attach!(view), 'function', 'a service breaker ejects nothing: it needs no control');
});
