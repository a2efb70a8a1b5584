import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../../src';
import { loadGrpcJsCopy, OTHER_GRPC_JS_VERSION } from '../helpers/grpc-js-copy';
import { echoService, startEchoServer, type EchoReply, type EchoServer } from '../helpers/echo-server';

// An app on another grpc-js version than the library's (a linked checkout, an old lockfile, a
// bundle): its stub, credentials, Metadata and interceptors come from its own copy. Each call
// form must deliver the app's headers, and nothing may throw later from a channel's connect.
describe(`an app on its own grpc-js (${OTHER_GRPC_JS_VERSION}) beside the library's (${require('@grpc/grpc-js/package.json').version})`, () => {
  let other: typeof grpc;
  let server: EchoServer;
  const clients: { close(): void }[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  before(async () => {
    other = loadGrpcJsCopy();
    assert.notEqual(other.Client, grpc.Client, 'a separate copy');
    server = await startEchoServer({ name: 'srv' });
    process.on('uncaughtException', onUncaught);
  });
  after(() => {
    process.off('uncaughtException', onUncaught);
    clients.forEach((c) => c.close());
    server.forceStop();
  });

  const appClient = () => {
    const Stub = other.makeGenericClientConstructor(echoService, 'Echo');
    const c = createClient(Stub, { target: `static:///${server.address}`, credentials: other.credentials.createInsecure() }) as any;
    clients.push(c);
    return c;
  };
  const header = (value: string) => {
    const md = new other.Metadata();
    md.set('x-app', value);
    md.set('x-app-bin', Buffer.from([1, 2, 3]));
    return md;
  };
  const seen = () => [server.lastMetadata?.get('x-app')[0], (server.lastMetadata?.get('x-app-bin')[0] as Buffer | undefined)?.toString('hex')];

  test("the app's credentials work: calls succeed and nothing throws later", async () => {
    const c = appClient();
    const reply = await new Promise<EchoReply>((resolve, reject) => c.Unary({ message: 'hi' }, (e: Error | null, r: EchoReply) => (e ? reject(e) : resolve(r))));
    assert.equal(reply.server, 'srv');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(uncaught, []);
  });

  test("every call form delivers the app's Metadata", async () => {
    const c = appClient();
    await new Promise((resolve, reject) => c.Unary({ message: 'a' }, header('cb3'), (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
    assert.deepEqual(seen(), ['cb3', '010203']);
    await new Promise((resolve, reject) => c.Unary({ message: 'b' }, header('cb4'), { deadline: Date.now() + 5000 }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
    assert.deepEqual(seen(), ['cb4', '010203']);
    await c.async.Unary({ message: 'c' }, { metadata: header('async') });
    assert.deepEqual(seen(), ['async', '010203']);
    await new Promise<void>((resolve, reject) => {
      const call = c.ServerStream({ message: 'd', count: 2 }, header('server-stream'));
      call.on('data', () => undefined);
      call.on('error', reject);
      call.on('end', resolve);
    });
    assert.deepEqual(seen(), ['server-stream', '010203']);
    await new Promise((resolve, reject) => {
      const call = c.ClientStream(header('client-stream'), (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r)));
      call.write({ message: 'e' });
      call.end();
    });
    assert.deepEqual(seen(), ['client-stream', '010203']);
    const replies: EchoReply[] = [];
    for await (const r of c.async.Bidi([{ message: 'f' }], { metadata: header('bidi') })) replies.push(r as EchoReply);
    assert.equal(replies.length, 1);
    assert.deepEqual(seen(), ['bidi', '010203']);
  });

  test("the app's interceptors run and their headers arrive", async () => {
    const c = appClient();
    const interceptor: grpc.Interceptor = (options, nextCall) =>
      new other.InterceptingCall(nextCall(options), {
        start(metadata, listener, next) {
          metadata.set('x-app', 'intercepted');
          next(metadata, listener);
        },
      });
    await new Promise((resolve, reject) => c.Unary({ message: 'i' }, { interceptors: [interceptor] }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
    assert.equal(seen()[0], 'intercepted');
  });

  test("the app's call credentials add their headers", async () => {
    const c = appClient();
    const credentials = other.credentials.createFromMetadataGenerator((_params, callback) => {
      const md = new other.Metadata();
      md.set('x-app', 'call-credentials');
      callback(null, md);
    });
    await c.async.Unary({ message: 'k' }, { callOptions: { credentials } });
    assert.equal(seen()[0], 'call-credentials');
    await new Promise((resolve, reject) => c.Unary({ message: 'l' }, { credentials }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
    assert.equal(seen()[0], 'call-credentials');
  });

  test("a stub of the library's copy with the app's credentials works too", async () => {
    const Stub = grpc.makeGenericClientConstructor(echoService, 'Echo');
    const c = createClient(Stub, { target: `static:///${server.address}`, credentials: other.credentials.createInsecure() }) as any;
    clients.push(c);
    await c.async.Unary({ message: 'x' }, { metadata: header('mixed') });
    assert.deepEqual(seen(), ['mixed', '010203']);
  });

  test('a stub and credentials from different copies fail at createClient, naming both versions', () => {
    const Stub = other.makeGenericClientConstructor(echoService, 'Echo');
    assert.throws(
      () => createClient(Stub, { target: `static:///${server.address}`, credentials: grpc.credentials.createInsecure() }),
      (e: Error) =>
        e instanceof TypeError &&
        e.message.includes(`credentials come from @grpc/grpc-js ${require('@grpc/grpc-js/package.json').version}`) &&
        e.message.includes(`the stub from ${OTHER_GRPC_JS_VERSION}`),
    );
  });
});
