import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientEndpoint } from '../../../src';
import { LATENCY_DECAY_MS, LATENCY_RISE_MS } from '../../../src/client/endpoint';
import type { EndpointHost } from '../../../src/client/endpoint';

function endpoint(now: { t: number }) {
  const events = { changed: 0, closed: 0 };
  const host: EndpointHost = {
    // Nothing listens on port 1: the channel fails to connect, which these tests ignore.
    makeClient: (address) => new grpc.Client(address, grpc.credentials.createInsecure()),
    changed: () => events.changed++,
    closed: () => events.closed++,
    connectTimeoutMs: 60_000,
    now: () => now.t,
    random: () => 0.5,
  };
  return { ep: new ClientEndpoint('127.0.0.1:1', 1, {}, undefined, host), events };
}

describe('ClientEndpoint stats', () => {
  test('latency: the first sample sets it; it rises within a rise time and falls over the decay time', () => {
    const now = { t: 1_000_000 };
    const { ep } = endpoint(now);
    assert.equal(ep.latencyEwmaMs, undefined);
    const sample = (ms: number, gap: number) => {
      now.t += gap;
      ep.begin();
      ep.end(grpc.status.OK, ms);
    };
    sample(2, 0);
    assert.equal(ep.latencyEwmaMs, 2);
    // Past the early phase, in which every sample counts as in a plain mean.
    for (let i = 0; i < 2 * LATENCY_DECAY_MS; i++) sample(2, 1);
    // Replies slow to 30 ms, one a millisecond: after one rise time the average has gone most of the way.
    for (let i = 0; i < LATENCY_RISE_MS; i++) sample(30, 1);
    const risen = ep.latencyEwmaMs!;
    assert.ok(risen > 2 + 28 * 0.6 && risen < 30, `after a rise time: ${risen}`);
    // Back to 2 ms: after the same time it has come down only a little.
    for (let i = 0; i < LATENCY_RISE_MS; i++) sample(2, 1);
    assert.ok(ep.latencyEwmaMs! > risen * 0.85, `falls slowly: ${ep.latencyEwmaMs}`);
    // One stray slow reply among fast ones moves it little.
    for (let i = 0; i < 5 * LATENCY_DECAY_MS; i++) sample(2, 1);
    const settled = ep.latencyEwmaMs!;
    sample(200, 1);
    assert.ok(ep.latencyEwmaMs! - settled < 2, `one 200 ms spike moved it by ${ep.latencyEwmaMs! - settled}`);
    ep.shutdown();
  });

  test('latency: a slow first reply does not linger once fast ones follow', () => {
    const now = { t: 0 };
    const { ep } = endpoint(now);
    ep.begin();
    ep.end(grpc.status.OK, 80);
    for (let i = 0; i < 40; i++) {
      now.t += 1;
      ep.begin();
      ep.end(grpc.status.OK, 1);
    }
    assert.ok(ep.latencyEwmaMs! < 3, `after 40 fast replies: ${ep.latencyEwmaMs}`);
    ep.shutdown();
  });

  test('latency decays toward zero while the endpoint gets no calls', () => {
    const now = { t: 5_000 };
    const { ep } = endpoint(now);
    ep.begin();
    ep.end(grpc.status.OK, 40);
    now.t += LATENCY_DECAY_MS;
    assert.ok(Math.abs(ep.latencyEwmaMs! - 40 / Math.E) < 1e-9);
    ep.shutdown();
  });

  test('cancelled calls and streams are no latency samples; failures are counted by code', () => {
    const now = { t: 0 };
    const { ep } = endpoint(now);
    ep.begin();
    ep.end(grpc.status.CANCELLED, 500);
    ep.begin();
    ep.end(grpc.status.OK, undefined);
    assert.equal(ep.latencyEwmaMs, undefined);
    for (const code of [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.NOT_FOUND]) {
      now.t += 100;
      ep.begin();
      ep.end(code, 1);
    }
    const info = ep.info();
    assert.equal(info.calls, 5);
    assert.equal(info.failures, 2, 'NOT_FOUND and CANCELLED say nothing about the endpoint');
    assert.equal(info.consecutiveFailures, 0);
    assert.ok(info.failureRate > 0 && info.failureRate < 1);
    ep.shutdown();
  });

  test('draining closes once the last call in flight ends; undrain before that keeps it', () => {
    const now = { t: 0 };
    const { ep, events } = endpoint(now);
    ep.begin();
    ep.begin();
    ep.drain();
    assert.equal(ep.available, false);
    ep.end(grpc.status.OK, 1);
    assert.equal(events.closed, 0);
    ep.undrain();
    ep.end(grpc.status.OK, 1);
    assert.equal(events.closed, 0, 'revived: stays open');
    ep.drain();
    assert.equal(events.closed, 1, 'nothing in flight: closes at once');
    assert.equal(ep.state, 'shutdown');
  });

  test('ejection and health take it out of the picker and tell the set', () => {
    const now = { t: 0 };
    const { ep, events } = endpoint(now);
    const before = events.changed;
    ep.setEjected(true);
    ep.setEjected(true);
    ep.setServing(false);
    assert.equal(events.changed, before + 2, 'repeated calls are no change');
    assert.equal(ep.info().ejected, true);
    assert.equal(ep.info().serving, false);
    ep.shutdown();
  });
});
