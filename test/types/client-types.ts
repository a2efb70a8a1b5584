// Compile-time checks of the client's types (run by `npm run typecheck`): a typed stub gives a
// typed client, an untyped one an open client. Nothing here runs.
import type * as grpc from '@grpc/grpc-js';
import { createClient } from '../../src';
import { EchoClient as TsProtoEcho, type EchoReply, type EchoRequest } from '../fixtures/ts-proto/echo';
import { EchoClient as ProtoLoaderEcho } from '../helpers/echo-server';

export async function typed(request: EchoRequest): Promise<void> {
  const client = createClient(TsProtoEcho, { target: 'static:///127.0.0.1:1' });
  const reply: EchoReply = await client.async.unary(request);
  const stream: AsyncIterable<EchoReply> = client.async.serverStream(request);
  const call: grpc.ClientUnaryCall = client.unary(request, (err: grpc.ServiceError | null, r: EchoReply) => void [err, r]);
  // @ts-expect-error: a typed client has no methods the service lacks
  client.async.nope(request);
  // @ts-expect-error: the single-channel methods of grpc-js's Client are not offered
  client.getChannel();
  void [reply, stream, call];
  client.close();
}

export async function untyped(): Promise<void> {
  const client = createClient(ProtoLoaderEcho, { target: 'static:///127.0.0.1:1' });
  const reply: unknown = await client.async.Unary({ message: 'x' });
  void reply;
  client.endpoints();
  client.close();
}
