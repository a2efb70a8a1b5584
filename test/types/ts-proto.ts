// Compile-time checks for ts-proto's grpc-js stubs (test/fixtures/ts-proto, see
// scripts/generate-fixtures.sh). Nothing here runs.
import * as grpc from '@grpc/grpc-js';
import { createClient } from '../../src';
import { EchoClient, EchoService, type EchoReply, type EchoRequest } from '../fixtures/ts-proto/echo';
import type { Equal } from './expect';

export async function tsProtoStub(request: EchoRequest): Promise<void> {
  const client = createClient(EchoClient, { target: 'ipv4:10.0.0.1:50051,10.0.0.2:50051' });
  const reply = await client.async.unary(request);
  const exact: Equal<typeof reply, EchoReply> = true;
  const summed = await client.async.clientStream((async function* () {
    yield request;
  })());
  const exactSum: Equal<typeof summed, EchoReply> = true;
  for await (const item of client.async.bidi([request])) {
    const exactItem: Equal<typeof item, EchoReply> = true;
    void exactItem;
  }
  client.unary(request, { hashKey: 'k', signal: new AbortController().signal }, (err, r) => void [err, r.server]);
  client.serverStream(request, new grpc.Metadata(), { hashKey: 'k' }).on('data', () => undefined);

  // @ts-expect-error: a request of the wrong shape
  await client.async.unary({ message: 1 });
  // @ts-expect-error: client-stream requests are the request type
  await client.async.clientStream([{ count: 'three' }]);
  // @ts-expect-error: bidi requests are the request type
  client.async.bidi(['text']);
  // @ts-expect-error: signal is an AbortSignal
  client.unary(request, { signal: 'stop' }, () => undefined);
  // @ts-expect-error: the client has no such method
  client.async.nope(request);
  // grpc-js's single-channel call makers are not offered.
  const noCallMakers: Equal<Extract<keyof typeof client, `make${string}`>, never> = true;
  void [exact, exactSum, noCallMakers];
}

export async function tsProtoDefinition(request: EchoRequest): Promise<void> {
  // ts-proto's service definition is typed method by method: so is the client made from it.
  const client = createClient(EchoService, { target: 'static:///10.0.0.1:50051' });
  const reply = await client.async.unary(request);
  const exact: Equal<typeof reply, EchoReply> = true;
  for await (const item of client.async.bidi([request])) void item.index;
  client.clientStream({ hashKey: 'k' }, (err, r) => void [err, r.server]).write(request);
  // @ts-expect-error: a request of the wrong shape
  await client.async.unary({ message: 1 });
  // @ts-expect-error: the definition has no such method
  client.async.nope(request);
  void exact;
}
