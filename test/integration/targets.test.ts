import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startEchoServer, type EchoServer } from '../helpers/echo-server';
import { testBed, unary } from '../helpers/calls';

// Each target form grpc-js accepts, given to createClient as a grpc-js user writes it, reaches
// real servers; a form naming two servers spreads calls over both.
describe('grpc-js target forms through createClient', () => {
  const bed = testBed();
  let a: EchoServer;
  let b: EchoServer;
  let v6: EchoServer | undefined;

  before(async () => {
    [a, b] = await bed.start(2);
    try {
      v6 = await startEchoServer({ name: 'v6', host: '::1' });
      bed.track(v6);
    } catch {
      v6 = undefined; // no IPv6 loopback on this host
    }
  });

  const servedBy = async (target: string, calls = 4): Promise<string[]> => {
    const c = bed.client({ target });
    const seen = new Set<string>();
    for (let i = 0; i < calls; i++) seen.add((await unary(c)).server);
    c.close();
    return [...seen].sort();
  };

  test('bare host:port, IP and name', async () => {
    assert.deepEqual(await servedBy(`127.0.0.1:${a.port}`), [a.name]);
    assert.deepEqual(await servedBy(`localhost:${b.port}`), [b.name]);
  });

  test('dns: with and without //', async () => {
    assert.deepEqual(await servedBy(`dns:localhost:${a.port}`), [a.name]);
    assert.deepEqual(await servedBy(`dns:///localhost:${b.port}`), [b.name]);
    assert.deepEqual(await servedBy(`dns:127.0.0.1:${a.port}`), [a.name]);
  });

  test('ipv4: lists balance over every address', async () => {
    assert.deepEqual(await servedBy(`ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`), [a.name, b.name].sort());
  });

  test('ipv6: and bracketed bare IPv6', async (t) => {
    if (!v6) return t.skip('no IPv6 loopback');
    assert.deepEqual(await servedBy(`ipv6:[::1]:${v6.port}`), ['v6']);
    assert.deepEqual(await servedBy(`[::1]:${v6.port}`), ['v6']);
  });

  test('a bad target fails at createClient, naming it', () => {
    assert.throws(() => bed.client({ target: 'ipv4:[::1]:1' }), /target "ipv4:\[::1\]:1": "\[::1\]:1" is not an IPv4 address/);
    assert.throws(() => bed.client({ target: 5n as unknown as string }), /got 5n \(a bigint\)/);
  });
});
