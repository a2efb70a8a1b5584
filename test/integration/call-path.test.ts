import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient, memoryResolver } from '../../src';
import { eventually, sleep, testBed, type Echo } from '../helpers/calls';
import { EchoClient, echoService, startEchoServer, type EchoReply, type EchoRequest, type EchoStub } from '../helpers/echo-server';

// Attempts go straight onto each endpoint's grpc-js channel. These tests hold that path to what a
// plain grpc-js stub does over the same real server, case by case.

const { track, client } = testBed();

/** The Echo service as a server that misbehaves on purpose: its Unary answers with `replies` messages. */
async function serverSending(replies: number): Promise<{ address: string; stop(): void }> {
  const server = new grpc.Server();
  const unary = echoService.Unary;
  // The same path, declared as server-streaming on this side, so it can answer with 0 or 2 messages.
  const definition = { Unary: { ...unary, responseStream: true } } as unknown as grpc.ServiceDefinition;
  server.addService(definition, {
    Unary: (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
      for (let i = 0; i < replies; i++) call.write({ message: 'reply', server: 'odd', index: i });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

type Unary = (request: unknown, callback: (error: grpc.ServiceError | null, reply?: unknown) => void) => unknown;

/** The call's outcome as the caller sees it: code and details, or the reply. */
function settle(call: Unary, request: unknown = { message: 'hi' }): Promise<{ code: number; details?: string; reply?: unknown }> {
  return new Promise((resolve) =>
    call(request, (error, reply) => resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, reply })),
  );
}

describe('the call path matches a plain grpc-js stub', () => {
  test('a unary call answered with no message fails UNIMPLEMENTED, as grpc-js fails it', async () => {
    const odd = await serverSending(0);
    try {
      const plain = new EchoClient(odd.address, grpc.credentials.createInsecure()) as EchoStub;
      const c = client({ target: `static:///${odd.address}` });
      const expected = await settle((r, cb) => plain.unary(r, cb));
      const got = await settle((r, cb) => c.unary(r, cb));
      assert.deepEqual(expected, { code: grpc.status.UNIMPLEMENTED, details: 'No message received' });
      assert.deepEqual(got, expected);
      plain.close();
    } finally {
      odd.stop();
    }
  });

  test('a unary call answered with two messages ends as with grpc-js, which reads one and waits for the deadline', async () => {
    const odd = await serverSending(2);
    try {
      const plain = new EchoClient(odd.address, grpc.credentials.createInsecure()) as EchoStub;
      const c = client({ target: `static:///${odd.address}` });
      const options = () => ({ deadline: Date.now() + 300 });
      const expected = await settle((r, cb) => plain.unary(r, options(), cb));
      const got = await settle((r, cb) => c.unary(r, options(), cb));
      assert.equal(expected.code, grpc.status.DEADLINE_EXCEEDED);
      assert.equal(got.code, expected.code);
      assert.equal(got.reply, undefined, 'neither reply is taken for the answer');
      plain.close();
    } finally {
      odd.stop();
    }
  });

  test('a request that cannot be serialized fails INTERNAL, as with grpc-js', async () => {
    const [a] = track(await startEchoServer());
    const throwing = { ...echoService.Unary, requestSerialize: () => { throw new Error('cannot encode'); } };
    const service = { ...echoService, Unary: throwing } as grpc.ServiceDefinition;
    const Plain = grpc.makeGenericClientConstructor(service, 'Echo');
    const plain = new Plain(a.address, grpc.credentials.createInsecure()) as unknown as EchoStub;
    const odd = createClient(service, { target: `static:///${a.address}` }) as unknown as Echo;
    const expected = await settle((r, cb) => plain.Unary(r, cb));
    const got = await settle((r, cb) => odd.Unary(r, cb));
    assert.deepEqual(expected, { code: grpc.status.INTERNAL, details: 'Request message serialization failure: cannot encode' });
    assert.deepEqual(got, expected);
    assert.equal(a.total(), 0, 'nothing reached the server');
    odd.close();
    plain.close();
  });

  test('a reply that cannot be parsed fails INTERNAL, as with grpc-js', async () => {
    const [a] = track(await startEchoServer());
    const throwing = { ...echoService.Unary, responseDeserialize: () => { throw new Error('bad bytes'); } };
    const service = { ...echoService, Unary: throwing } as grpc.ServiceDefinition;
    const Plain = grpc.makeGenericClientConstructor(service, 'Echo');
    const plain = new Plain(a.address, grpc.credentials.createInsecure()) as unknown as EchoStub;
    const c = client({ target: `static:///${a.address}` });
    const odd = createClient(service, { target: `static:///${a.address}` }) as unknown as Echo;
    const expected = await settle((r, cb) => plain.Unary(r, cb));
    const got = await settle((r, cb) => odd.Unary(r, cb));
    assert.deepEqual(expected, { code: grpc.status.INTERNAL, details: 'Response message parsing error: bad bytes' });
    assert.deepEqual(got, expected);
    assert.equal((await settle((r, cb) => c.unary(r, cb))).code, grpc.status.OK, 'the endpoint itself is fine');
    odd.close();
    plain.close();
  });

  test('a server stream reads only as fast as its consumer: the server is held back, nothing is lost', async () => {
    // 4000 × 16 KiB is 64 MiB: several times what loopback socket buffers and HTTP/2 windows can
    // hold (about 16 MiB seen), so a server held back stops well before half of it.
    const TOTAL = 4000;
    let written = 0;
    const server = new grpc.Server();
    server.addService(echoService, {
      ServerStream: async (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
        const big = 'x'.repeat(16 * 1024);
        for (let i = 0; i < TOTAL && !call.cancelled; i++) {
          written++;
          if (!call.write({ message: big, server: 'flow', index: i })) await new Promise((r) => call.once('drain', r));
        }
        call.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    try {
      const c = client({ target: `static:///127.0.0.1:${port}` });
      const stream = c.serverStream({ count: TOTAL }) as grpc.ClientReadableStream<EchoReply>;
      await eventually(() => written > 0);
      await sleep(300);
      assert.ok(written < TOTAL / 2, `the server ran ahead of a consumer that read nothing: ${written} of ${TOTAL} written`);
      let next = 0;
      for await (const reply of stream as AsyncIterable<EchoReply>) assert.equal(reply.index, next++);
      assert.equal(next, TOTAL);
    } finally {
      server.forceShutdown();
    }
  });

  test('client-level interceptors (channelOptions) run on every call, through grpc-js', async () => {
    const [a, b] = track(await startEchoServer({ name: 'a' }), await startEchoServer({ name: 'b' }));
    let intercepted = 0;
    const interceptor: grpc.Interceptor = (options, nextCall) => {
      intercepted++;
      return new grpc.InterceptingCall(nextCall(options), {
        start(metadata, listener, next) {
          metadata.set('x-intercepted', 'yes');
          next(metadata, listener);
        },
      });
    };
    const c = client({ target: `static:///${a.address},${b.address}`, channelOptions: { interceptors: [interceptor] } });
    await eventually(() => c.endpoints().filter((e) => e.available).length === 2);
    // At least 4 calls, and on until both servers have had one: a picker rebuild may trail the
    // endpoints' readiness by a moment on a loaded machine.
    let calls = 0;
    while (calls < 4 || ((!a.lastMetadata || !b.lastMetadata) && calls < 200)) {
      await c.async.unary({ message: 'i' });
      calls++;
    }
    assert.equal(intercepted, calls);
    assert.equal(a.lastMetadata?.get('x-intercepted')[0], 'yes');
    assert.equal(b.lastMetadata?.get('x-intercepted')[0], 'yes');
  });

  test('streams with call interceptors go through grpc-js and deliver every message, in order', async () => {
    const [a] = track(await startEchoServer());
    const c = client({ target: `static:///${a.address}` });
    let intercepted = 0;
    const interceptor: grpc.Interceptor = (options, nextCall) => {
      intercepted++;
      return new grpc.InterceptingCall(nextCall(options));
    };
    const got: number[] = [];
    const stream = c.serverStream({ message: 's', count: 50 }, { interceptors: [interceptor] }) as grpc.ClientReadableStream<EchoReply>;
    for await (const reply of stream as AsyncIterable<EchoReply>) {
      got.push(reply.index);
      if (got.length % 10 === 0) await sleep(5);
    }
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));

    const bidi = c.bidi({ interceptors: [interceptor] }) as grpc.ClientDuplexStream<EchoRequest, EchoReply>;
    const replies: string[] = [];
    bidi.on('data', (r: EchoReply) => replies.push(r.message));
    for (const m of ['x', 'y', 'z']) bidi.write({ message: m });
    bidi.end();
    await new Promise((resolve) => bidi.on('status', resolve));
    assert.deepEqual(replies, ['x', 'y', 'z']);
    assert.equal(intercepted, 2);
  });

  test('stream write flags and call objects: getPeer names the server, getAuthContext as in grpc-js', async () => {
    const [a] = track(await startEchoServer());
    const plain = new EchoClient(a.address, grpc.credentials.createInsecure()) as EchoStub;
    const c = client({ target: `static:///${a.address}` });
    const bidi = c.bidi() as grpc.ClientDuplexStream<EchoRequest, EchoReply>;
    const plainBidi = plain.bidi() as grpc.ClientDuplexStream<EchoRequest, EchoReply>;
    // grpc's NO_COMPRESS write flag, passed where grpc-js takes flags: as the encoding.
    for (const s of [bidi, plainBidi]) s.write({ message: 'one' }, '2' as BufferEncoding);
    const [mine, theirs] = await Promise.all([bidi, plainBidi].map((s) => new Promise<EchoReply>((resolve) => s.once('data', resolve))));
    assert.deepEqual(mine, theirs);
    assert.equal(bidi.getPeer(), plainBidi.getPeer());
    assert.deepEqual(bidi.getAuthContext(), plainBidi.getAuthContext());
    const statuses = [bidi, plainBidi].map((s) => new Promise<grpc.StatusObject>((resolve) => s.on('status', resolve)));
    for (const s of [bidi, plainBidi]) {
      s.on('data', () => undefined);
      s.end();
    }
    assert.deepEqual((await Promise.all(statuses)).map((s) => s.code), [grpc.status.OK, grpc.status.OK]);
    plain.close();
  });
});

describe('refusals reach the caller from a macrotask', () => {
  let registry: ReturnType<typeof memoryResolver>;
  let c: Echo;
  before(() => {
    registry = memoryResolver();
    registry.set('nobody', []);
    c = createClient(EchoClient, { resolver: registry, service: 'nobody' }) as unknown as Echo;
  });
  after(() => c.close());

  // A caller that awaits refused calls in a loop must still let timers and I/O run: had the
  // refusals settled in microtasks, the setImmediate below would run only after the loop.
  for (const form of ['async', 'callback'] as const) {
    test(`a tight loop of refused calls (${form} form) lets the event loop turn`, async () => {
      const first = await c.async.unary({}).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
      assert.equal(first?.code, grpc.status.UNAVAILABLE, 'the client refuses: it has no endpoint');
      let turned = false;
      setImmediate(() => (turned = true));
      let calls = 0;
      while (!turned && calls < 10_000) {
        calls++;
        if (form === 'async') await c.async.unary({}).catch(() => undefined);
        else await new Promise((resolve) => c.unary({}, resolve));
      }
      assert.ok(calls <= 5, `the event loop turned only after ${calls} refused calls`);
    });
  }
});
