import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { weightedRoundRobin } from '../../../src';
import { EndpointSet } from '../../../src/client/endpoint-set';
import { silentLogger, type Logger } from '../../../src/core/logger';
import { clientViewOf } from '../../../src/client/client-view';
import { type EndpointView } from '../../../src/core/view';

/** A set over channel stand-ins that are always READY. */
function client(logger: Logger = silentLogger) {
  const channels = new Map<string, unknown>();
  const set = new EndpointSet({
    service: 'svc',
    target: 'memory:///svc',
    balancer: weightedRoundRobin(),
    makeClient: (address) => {
      const channel = { getConnectivityState: () => grpc.connectivityState.READY, watchConnectivityState: () => undefined };
      channels.set(address, channel);
      return { getChannel: () => channel, close: () => undefined } as unknown as grpc.Client;
    },
    connectTimeoutMs: Infinity,
    now: Date.now,
    statsClock: Date.now,
    random: Math.random,
    logger,
  });
  set.onUpdate([{ address: '10.0.0.1:1' }, { address: '10.0.0.2:1' }]);
  return { set, channels, ...clientViewOf(set, 'svc', 'memory:///svc', logger) };
}

test('the control ejects and restores the client’s own endpoints, logging the reason; the view only reads', () => {
  const lines: string[] = [];
  const log = (fields: object, message?: string) => lines.push(`${message} ${JSON.stringify(fields)}`);
  const { set, view, control } = client({ debug: log, info: log, warn: log, error: log });
  const [first, second] = view.endpoints();
  assert.equal(first.available, true);
  control.eject(first, '3 failures in a row');
  assert.equal(first.ejected, true);
  assert.equal(first.available, false);
  assert.equal(set.all()[0].ejected, true, 'the view reads the live endpoint');
  assert.ok(lines.some((line) => line.startsWith('endpoint ejected by circuit breaker') && line.includes('3 failures in a row')));
  control.restore(first);
  assert.equal(first.ejected, false);
  assert.equal(second.ejected, false);
  set.close();
});

test('an endpoint that is not the client’s own is left alone, and has no channel', () => {
  const a = client();
  const b = client();
  const [foreign] = b.view.endpoints();
  a.control.eject(foreign, 'not mine');
  assert.equal(foreign.ejected, false);
  assert.equal(a.control.channelOf(foreign), undefined);
  const [own] = a.view.endpoints();
  assert.equal(a.control.channelOf(own), a.channels.get(own.address));
  const lookalike: EndpointView = { ...own.info(), latencyEwmaMs: undefined, info: () => own.info() };
  a.control.eject(lookalike);
  assert.equal(own.ejected, false, 'a copy with the same address is not the endpoint');
  a.set.close();
  b.set.close();
});
