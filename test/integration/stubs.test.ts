import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '../../src';
import { EchoClient as protoLoaderEcho, startEchoServers, type EchoReply, type EchoServer } from '../helpers/echo-server';
import { EchoClient as grpcToolsEcho } from '../fixtures/grpc-tools/echo_grpc_pb';
import { EchoClient as tsProtoEcho, EchoRequest as TsProtoRequest } from '../fixtures/ts-proto/echo';

// The three ways users get a stub. proto-loader keeps the proto's method names (Unary, …) and adds
// the camelCase originalName; grpc-tools and ts-proto generate camelCase names only.
// ts-proto's encoders want whole messages, which its users make with fromPartial.
const asIs = (m: object) => m;
const stubs = [
  { kind: '@grpc/proto-loader', stub: protoLoaderEcho as unknown as grpc.ServiceClientConstructor, msg: asIs },
  { kind: 'grpc-tools static codegen', stub: grpcToolsEcho, msg: asIs },
  { kind: 'ts-proto', stub: tsProtoEcho as unknown as grpc.ServiceClientConstructor, msg: (m: object) => TsProtoRequest.fromPartial(m) },
];

let servers: EchoServer[];
before(async () => {
  servers = await startEchoServers(3);
});
after(() => {
  for (const s of servers) s.forceStop();
});

function collect(stream: grpc.ClientReadableStream<EchoReply>): Promise<{ replies: EchoReply[]; status: grpc.StatusObject; metadata: boolean }> {
  return new Promise((resolve, reject) => {
    const replies: EchoReply[] = [];
    let metadata = false;
    stream.on('metadata', () => (metadata = true));
    stream.on('data', (r: EchoReply) => replies.push(r));
    stream.on('error', reject);
    stream.on('status', (status: grpc.StatusObject) => resolve({ replies, status, metadata }));
  });
}

for (const { kind, stub, msg } of stubs) {
  describe(`stub from ${kind}`, () => {
    let c: grpc.Client & Record<string, any>;
    before(() => {
      c = createClient(stub, { target: `static:///${servers.map((s) => s.address).join(',')}` }) as never;
    });
    after(() => c.close());

    test('has every method under the names the plain stub has', () => {
      const plain = new stub('127.0.0.1:1', grpc.credentials.createInsecure()) as unknown as Record<string, unknown>;
      for (const name of ['unary', 'clientStream', 'serverStream', 'bidi']) {
        assert.equal(typeof plain[name], 'function', `plain stub lacks ${name}`);
        assert.equal(typeof c[name], 'function', `wrapped client lacks ${name}`);
      }
      if ('Unary' in plain) assert.equal(typeof c.Unary, 'function');
      (plain as unknown as grpc.Client).close();
    });

    test('unary', async () => {
      const reply = await new Promise<EchoReply>((resolve, reject) =>
        c.unary(msg({ message: 'one' }), (err: grpc.ServiceError | null, r: EchoReply) => (err ? reject(err) : resolve(r))),
      );
      assert.equal(reply.message, 'one');
      assert.match(reply.server, /^s[0-2]$/);
    });

    test('client streaming, with writes before an endpoint is picked', async () => {
      const reply = await new Promise<EchoReply>((resolve, reject) => {
        const call = c.clientStream(new grpc.Metadata(), (err: grpc.ServiceError | null, r: EchoReply) => (err ? reject(err) : resolve(r)));
        call.write(msg({ message: 'a' }));
        call.write(msg({ message: 'b' }));
        call.write(msg({ message: 'c' }));
        call.end();
      });
      assert.equal(reply.message, 'a,b,c');
      assert.equal(reply.index, 3);
    });

    test('server streaming', async () => {
      const { replies, status, metadata } = await collect(c.serverStream(msg({ message: 'x', count: 4 })));
      assert.deepEqual(
        replies.map((r) => r.index),
        [0, 1, 2, 3],
      );
      assert.equal(status.code, grpc.status.OK);
      assert.equal(metadata, true);
    });

    test('bidi streaming', async () => {
      const call = c.bidi();
      const done = collect(call);
      for (const m of ['p', 'q']) call.write(msg({ message: m }));
      call.end();
      const { replies, status } = await done;
      assert.deepEqual(
        replies.map((r) => r.message),
        ['p', 'q'],
      );
      assert.equal(status.code, grpc.status.OK);
    });

    test('a server stream cancelled by the caller ends with CANCELLED', async () => {
      const call = c.serverStream(msg({ message: 'x', count: 1000 }));
      const outcome = new Promise<{ error?: grpc.ServiceError; status?: grpc.StatusObject }>((resolve) => {
        let error: grpc.ServiceError | undefined;
        call.on('data', () => call.cancel());
        call.on('error', (e: grpc.ServiceError) => (error = e));
        call.on('status', (status: grpc.StatusObject) => resolve({ error, status }));
      });
      const { error, status } = await outcome;
      assert.equal(status?.code, grpc.status.CANCELLED);
      assert.equal(error?.code, grpc.status.CANCELLED);
    });

    test('async forms of all four kinds', async () => {
      const reply = (await c.async.unary(msg({ message: 'await' }))) as EchoReply;
      assert.equal(reply.message, 'await');
      const summed = (await c.async.clientStream([msg({ message: '1' }), msg({ message: '2' })])) as EchoReply;
      assert.equal(summed.message, '1,2');
      const indexes: number[] = [];
      for await (const r of c.async.serverStream(msg({ count: 3 })) as AsyncIterable<EchoReply>) indexes.push(r.index);
      assert.deepEqual(indexes, [0, 1, 2]);
      async function* requests() {
        yield msg({ message: 'x' });
        yield msg({ message: 'y' });
      }
      const echoed: string[] = [];
      for await (const r of c.async.bidi(requests()) as AsyncIterable<EchoReply>) echoed.push(r.message);
      assert.deepEqual(echoed, ['x', 'y']);
    });
  });
}

describe('stub validation', () => {
  test('a service definition works in place of a constructor', async () => {
    const c = createClient(protoLoaderEcho.service, { target: `static:///${servers[0].address}` });
    const reply = (await c.async.Unary({ message: 'def' })) as EchoReply;
    assert.equal(reply.message, 'def');
    c.close();
  });

  test('what is not a stub is refused with a clear error', () => {
    assert.throws(() => createClient({} as never, { target: 'static:///127.0.0.1:1' }), /has no methods/);
    assert.throws(() => createClient({ x: { path: '/a/b' } } as never, { target: 'static:///127.0.0.1:1' }), /method "x" .* lacks requestStream/);
    assert.throws(() => createClient(null as never, { target: 'static:///127.0.0.1:1' }), /must be a grpc-js client constructor/);
    assert.throws(() => createClient(protoLoaderEcho, {} as never), /give options.target/);
    assert.throws(() => createClient(protoLoaderEcho, { target: 'static:///127.0.0.1:1', connectTimeoutMs: -1 }), /options.connectTimeoutMs must be a finite number > 0/);
    assert.throws(() => createClient(protoLoaderEcho, { target: 'nope:///x' }), /unknown scheme "nope"/);
    assert.throws(() => createClient(protoLoaderEcho, { target: 'static:///127.0.0.1:1', logger: { info() {} } as never }), /options.logger must have a debug/);
    assert.throws(() => createClient(protoLoaderEcho, { target: 'static:///127.0.0.1:1', middleware: {} as never }), /options.middleware must be an array/);
    assert.throws(() => createClient(protoLoaderEcho, { target: 'static:///127.0.0.1:1', tlsServerName: '' }), /options.tlsServerName/);
    assert.throws(() => createClient(protoLoaderEcho, { target: 'static:///127.0.0.1:1', balancer: {} as never }), /options.balancer must be a Balancer/);
  });

  test('bad call arguments throw like grpc-js does', () => {
    const c = createClient(protoLoaderEcho, { target: `static:///${servers[0].address}` }) as never as Record<string, any>;
    assert.throws(() => c.unary({}), /needs a callback/);
    assert.throws(() => c.unary({}, 'x', () => undefined), /Incorrect arguments/);
    c.close();
  });
});
