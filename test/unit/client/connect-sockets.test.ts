import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ConnectSockets } from '../../../src/client/connect-sockets';

let server: Server;
let port = 0;
const accepted = new Set<Socket>();

before(async () => {
  // Accepts TCP and never says a word, like a peer that does not speak HTTP/2.
  server = createServer((socket) => {
    accepted.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

after(() => {
  for (const socket of accepted) socket.destroy();
  server.close();
});

function connected(): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', () => undefined);
  });
}

describe('ConnectSockets', () => {
  test('a silent socket is closed once old enough, by the clock it was given', async () => {
    const clock = { t: 0 };
    const sockets = new ConnectSockets(`127.0.0.1:${port}`, () => clock.t);
    sockets.watch();
    const socket = await connected();
    sockets.offer(socket);
    sockets.unwatch();
    assert.equal(sockets.reap(), 0, 'too young to judge');
    clock.t += 1_000;
    assert.equal(sockets.reap(), 1);
    assert.equal(socket.destroyed, true);
    sockets.forget();
  });

  test('a socket that connects only after its attempt was given up is still closed', async () => {
    const clock = { t: 0 };
    const sockets = new ConnectSockets(`127.0.0.1:${port}`, () => clock.t);
    sockets.watch();
    sockets.unwatch();
    sockets.reap();
    const late = await connected();
    sockets.offer(late);
    clock.t += 1_000;
    assert.equal(sockets.reap(), 1);
    assert.equal(late.destroyed, true);
    sockets.forget();
  });

  test('after a successful attempt, late sockets and sockets to other ports are left alone', async () => {
    const clock = { t: 0 };
    const sockets = new ConnectSockets(`127.0.0.1:${port}`, () => clock.t);
    const other = new ConnectSockets(`127.0.0.1:${port + 1}`, () => clock.t);
    sockets.watch();
    sockets.unwatch();
    sockets.forget();
    other.watch();
    const socket = await connected();
    sockets.offer(socket);
    other.offer(socket);
    other.unwatch();
    clock.t += 1_000;
    assert.equal(sockets.reap(), 0);
    assert.equal(other.reap(), 0);
    assert.equal(socket.destroyed, false);
    socket.destroy();
    sockets.forget();
    other.forget();
  });
});
