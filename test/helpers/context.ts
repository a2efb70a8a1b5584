import * as grpc from '@grpc/grpc-js';
import { CallContext } from '../../src';

/** A unary call context for unit tests of middleware, with fields overridable. */
export function context(overrides: Partial<ConstructorParameters<typeof CallContext>[0]> = {}): CallContext {
  return new CallContext({
    client: { service: 'svc', target: 'memory:///svc', endpoints: () => [], observe: () => () => undefined, lastResolvedAt: () => 0 },
    service: 'svc',
    target: 'memory:///svc',
    method: '/pkg.Svc/Method',
    type: 'unary',
    definition: {} as never,
    metadata: new grpc.Metadata(),
    deadline: Infinity,
    callOptions: {},
    startedAt: 0,
    ...overrides,
  });
}
