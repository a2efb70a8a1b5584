// Compile-time checks for grpc-tools' JavaScript stubs typed by grpc_tools_node_protoc_ts
// (test/fixtures/grpc-tools-ts, see scripts/generate-fixtures.sh). Its EchoClient declares no
// static `service`, and its messages are classes. Nothing here runs.
import * as grpc from '@grpc/grpc-js';
import { createClient } from '../../src';
import { EchoClient, EchoService } from '../fixtures/grpc-tools-ts/echo_grpc_pb';
import type { EchoReply, EchoRequest } from '../fixtures/grpc-tools-ts/echo_pb';
import type { Equal } from './expect';

export async function grpcToolsStub(request: EchoRequest): Promise<void> {
  const client = createClient(EchoClient, { target: 'static:///10.0.0.1:50051' });
  const reply = await client.async.unary(request);
  const exact: Equal<typeof reply, EchoReply> = true;
  reply.getMessage();
  const summed = await client.async.clientStream([request]);
  const exactSum: Equal<typeof summed, EchoReply> = true;
  for await (const item of client.async.serverStream(request)) item.getIndex();
  client.unary(request, new grpc.Metadata(), { hashKey: 'k', signal: new AbortController().signal }, (err, r) => void [err, r.getServer()]);
  client.bidi({ hashKey: 'k' }).write(request);

  // Its service definition is typed method by method: so is the client made from it.
  const fromDefinition = createClient(EchoService, { target: 'static:///10.0.0.1:50051' });
  const exactDefinition: Equal<Awaited<ReturnType<typeof fromDefinition.async.unary>>, EchoReply> = true;
  // @ts-expect-error: a plain object is not the generated message class
  void fromDefinition.async.unary({ message: 'x' });

  // @ts-expect-error: a plain object is not the generated message class
  await client.async.unary({ message: 'x' });
  // @ts-expect-error: client-stream requests are the request class
  await client.async.clientStream([{ message: 'x' }]);
  // @ts-expect-error: the reply class has no such getter
  reply.getNope();
  void [exact, exactSum, exactDefinition];
}
