export type { Endpoint, Balancer, Picker, PickInfo } from './balancer/types';
export type { Instance, Resolver, ResolverListener } from './resolver/types';
export type { Middleware, Next } from './middleware/types';
export { CallContext, type CallType } from './client/context';
export { compose } from './middleware/compose';
export { parseTarget, registerResolverScheme, type ParsedTarget, type ResolvedTarget, type ResolverScheme } from './resolver/target';
export { staticResolver } from './resolver/static';
export { memoryResolver, sharedMemoryResolver, type MemoryResolver } from './resolver/memory';
