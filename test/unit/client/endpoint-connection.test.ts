import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EndpointConnection, type ConnectionHost } from '../../../src/client/endpoint-connection';

/** A grpc-js client whose channel stays CONNECTING until told otherwise. */
function stuckClient() {
  let state = grpc.connectivityState.CONNECTING;
  let watcher: (() => void) | undefined;
  const fake = {
    closed: false,
    move(to: grpc.connectivityState) {
      state = to;
      const w = watcher;
      watcher = undefined;
      w?.();
    },
    getChannel: () => ({
      getConnectivityState: () => state,
      watchConnectivityState: (_from: grpc.connectivityState, _deadline: number, callback: () => void) => {
        watcher = callback;
      },
    }),
    close() {
      fake.closed = true;
    },
  };
  return fake;
}

function connection(random: number) {
  const clients: ReturnType<typeof stuckClient>[] = [];
  const warnings: Record<string, unknown>[] = [];
  let changes = 0;
  const host: ConnectionHost = {
    makeClient: () => {
      const client = stuckClient();
      clients.push(client);
      return client as unknown as grpc.Client;
    },
    connectTimeoutMs: 20,
    now: () => 0,
    random: () => random,
    logger: { debug() {}, info() {}, warn: (fields) => warnings.push({ ...fields }), error() {} },
    service: 'svc',
  };
  const conn = new EndpointConnection('127.0.0.1:1', host, () => changes++);
  return { conn, clients, warnings, changes: () => changes };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('EndpointConnection', () => {
  test('follows the channel; ready clears a failure', () => {
    const { conn, clients, changes } = connection(0.5);
    assert.equal(conn.state, 'idle', 'nothing is followed before start()');
    conn.start();
    assert.equal(conn.state, 'connecting');
    clients[0].move(grpc.connectivityState.TRANSIENT_FAILURE);
    assert.equal(conn.state, 'transient_failure');
    assert.equal(conn.failed, true);
    clients[0].move(grpc.connectivityState.CONNECTING);
    assert.equal(conn.failed, true, 'still failing while grpc-js retries');
    clients[0].move(grpc.connectivityState.READY);
    assert.equal(conn.ready, true);
    assert.equal(conn.failed, false);
    assert.equal(changes(), 4);
    assert.equal(conn.close(), true);
    assert.equal(conn.close(), false, 'once');
    assert.equal(conn.state, 'shutdown');
    assert.equal(clients[0].closed, true);
  });

  test('a connect timeout closes the channel and reconnects after gRPC connection backoff (1 s ± 20 %)', async () => {
    for (const [random, expected] of [
      [0, 800],
      [0.5, 1_000],
      [0.999_999, 1_200],
    ] as const) {
      const { conn, clients, warnings } = connection(random);
      conn.start();
      await sleep(60);
      assert.equal(conn.connectTimeouts, 1);
      assert.equal(clients[0].closed, true, 'the stuck channel is closed');
      assert.equal(conn.state, 'transient_failure');
      assert.equal(conn.failed, true);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0].retryInMs, expected);
      assert.equal(warnings[0].connectTimeoutMs, 20);
      assert.equal(clients.length, 1, 'no new channel before the backoff');
      conn.close();
    }
  });
});
