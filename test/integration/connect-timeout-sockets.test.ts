import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { memoryResolver } from '../../src';
import { eventually, sleep, testBed } from '../helpers/calls';

const { client, closeLater } = testBed();

/** A peer that accepts TCP and never speaks HTTP/2, counting the sockets open to it. */
async function blackHole(): Promise<{ address: string; open(): number; accepted(): number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    // Reading is what lets the server see the client hang up.
    socket.resume();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeLater(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, open: () => sockets.size, accepted: () => accepted };
}

describe('connect timeouts leave no socket behind', () => {
  test('each abandoned attempt closes its socket; close() closes the last one', async () => {
    const peer = await blackHole();
    const c = client({ target: `static:///${peer.address}`, connectTimeoutMs: 250 });
    let most = 0;
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      most = Math.max(most, peer.open());
      await sleep(50);
    }
    const timeouts = c.endpoints()[0].connectTimeouts;
    assert.ok(timeouts >= 2, `connect timeouts: ${timeouts}`);
    assert.ok(peer.accepted() >= 2, `connection attempts: ${peer.accepted()}`);
    // An attempt's socket may outlive its timeout by the time it takes to judge it silent (1 s).
    assert.ok(most <= 2, `at most 2 sockets open at once, saw ${most} after ${peer.accepted()} attempts`);
    c.close();
    await eventually(() => peer.open() === 0, 3_000, 'no socket open after close()');
  });

  test('an endpoint that leaves while connecting closes its socket', async () => {
    const peer = await blackHole();
    const resolver = memoryResolver();
    resolver.set('echo', [peer.address]);
    const c = client({ resolver, service: 'echo', connectTimeoutMs: 60_000 });
    await eventually(() => peer.open() === 1, 3_000, 'the attempt connected');
    resolver.set('echo', ['127.0.0.1:1']);
    await eventually(() => peer.open() === 0, 3_000, 'the socket of the endpoint that left closed');
    assert.equal(c.endpoints().some((e) => e.address === peer.address), false);
  });
});
