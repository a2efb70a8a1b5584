export type { Instance, Resolver, ResolverListener } from './types';
export { parseTarget, registerResolverScheme, resolveTarget, type ParsedTarget, type ResolvedTarget, type ResolverScheme } from './target';
export { formatAddress, parseAddress, type HostPort } from '../discovery/address';
export { staticResolver } from './static';
export { memoryResolver, sharedMemoryResolver, type MemoryResolver } from './memory';
export {
  consulResolver,
  ConsulError,
  isConsulError,
  type ConsulConnectionOptions,
  type ConsulResolverOptions,
  type ConsulTlsOptions,
} from './consul';
export {
  dnsResolver,
  DnsError,
  isDnsError,
  type DnsErrorCode,
  type DnsFamily,
  type DnsResolver,
  type DnsResolverOptions,
} from './dns';
export {
  etcdResolver,
  type EtcdResolverOptions,
} from './etcd';
export {
  EtcdError,
  isEtcdError,
  type EtcdClient,
  type EtcdConnectionOptions,
  type EtcdTlsOptions,
} from '../discovery/etcd-options';
export { ETCD_KEY_FORMATS, type EtcdKeyFormat } from '../discovery/etcd-format';
export { subsetResolver, type SubsetOptions, type SubsetResolver, type SubsetStateSource, type SubsetEndpointState } from './subset';
