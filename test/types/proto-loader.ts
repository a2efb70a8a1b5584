// Compile-time checks (run by `npm run typecheck`; nothing here runs) for stubs typed by
// @grpc/proto-loader's proto-loader-gen-types (test/fixtures/proto-loader, see
// scripts/generate-fixtures.sh).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createClient } from '../../src';
import type { ProtoGrpcType } from '../fixtures/proto-loader/echo';
import type { EchoReply__Output } from '../fixtures/proto-loader/test/echo/EchoReply';
import type { EchoRequest } from '../fixtures/proto-loader/test/echo/EchoRequest';
import type { Equal } from './expect';

export async function protoLoaderStub(request: EchoRequest): Promise<void> {
  const proto = grpc.loadPackageDefinition(protoLoader.loadSync('echo.proto')) as unknown as ProtoGrpcType;
  const client = createClient(proto.test.echo.Echo, { target: 'dns:///echo.internal:50051' });

  // Awaited results are the response type itself, not `| undefined`.
  const reply = await client.async.Unary(request);
  const exact: Equal<typeof reply, EchoReply__Output> = true;
  const fromStream = await client.async.ClientStream([request, { message: 'b' }]);
  const exactStream: Equal<typeof fromStream, EchoReply__Output> = true;
  for await (const item of client.async.ServerStream(request)) {
    const exactItem: Equal<typeof item, EchoReply__Output> = true;
    void exactItem;
  }
  for await (const item of client.async.bidi([request])) void item.server.length;

  // The callback form takes this library's call options beside grpc-js's.
  const signal = new AbortController().signal;
  client.Unary(request, { hashKey: 'user-42', signal, deadline: Date.now() + 100 }, (err, r) => void [err, r.message.length]);
  client.unary(request, new grpc.Metadata(), { hashKey: 'user-42' }, (err, r) => void [err?.code, r.index]);
  client.Unary(request, new grpc.Metadata(), (err) => void err);
  client.ServerStream(request, { signal }).on('data', (r: EchoReply__Output) => void r);
  client.ClientStream({ hashKey: 'k' }, (err, r) => void [err, r]).write({ message: 'x' });
  client.Bidi(new grpc.Metadata(), { signal }).write({ message: 'x' });

  // @ts-expect-error: a request field of the wrong type
  await client.async.Unary({ message: 5 });
  // @ts-expect-error: client-stream requests are the request type
  await client.async.ClientStream([{ message: 5 }]);
  // @ts-expect-error: bidi requests are the request type
  client.async.Bidi([{ nope: true }]);
  // @ts-expect-error: hashKey is a string
  client.Unary(request, { hashKey: 5 }, () => undefined);
  // @ts-expect-error: the callback form of a unary call needs a callback
  client.Unary(request, { hashKey: 'k' });
  // @ts-expect-error: a stream's writes are the request type
  client.Bidi().write({ message: 5 });
  // @ts-expect-error: the response has no such field
  void reply.nope;
  // @ts-expect-error: grpc-js's single-channel methods are not offered
  client.getChannel();
  void [exact, exactStream];
}

export async function untypedDefinitions(): Promise<void> {
  // A plain ServiceDefinition, and proto-loader's (whose stream flags are plain booleans), give
  // an untyped client: any method name, any request.
  const plain: grpc.ServiceDefinition = {};
  const client = createClient(plain, { target: 'static:///10.0.0.1:50051' });
  const reply: number = await client.async.Anything({ any: 'thing' });
  const proto = grpc.loadPackageDefinition(protoLoader.loadSync('echo.proto')) as unknown as ProtoGrpcType;
  const fromLoader = createClient(proto.test.echo.Echo.service, { target: 'static:///10.0.0.1:50051' });
  void fromLoader.async.Unary({ message: 5 });
  void reply;
}
