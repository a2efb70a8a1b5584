export type { Instance, Resolver, ResolverListener } from './types';
export { parseTarget, registerResolverScheme, resolveTarget, type ParsedTarget, type ResolvedTarget, type ResolverScheme } from './target';
export { formatAddress, parseAddress, type HostPort } from './address';
export { staticResolver } from './static';
export { memoryResolver, sharedMemoryResolver, type MemoryResolver } from './memory';
export {
  consulResolver,
  ConsulError,
  isConsulError,
  DEFAULT_CONSUL_ADDRESS,
  DEFAULT_CONSUL_WAIT_MS,
  DEFAULT_CONSUL_BACKOFF_INITIAL_MS,
  DEFAULT_CONSUL_BACKOFF_MAX_MS,
  DEFAULT_CONSUL_MIN_QUIET_INTERVAL_MS,
  DEFAULT_CONSUL_REQUEST_TIMEOUT_MS,
  type ConsulConnectionOptions,
  type ConsulResolverOptions,
  type ConsulTlsOptions,
} from './consul';
export {
  dnsResolver,
  DnsError,
  isDnsError,
  DEFAULT_DNS_MIN_TTL_MS,
  DEFAULT_DNS_MAX_TTL_MS,
  DEFAULT_DNS_MIN_RESOLVE_INTERVAL_MS,
  DEFAULT_DNS_TIMEOUT_MS,
  DEFAULT_DNS_TRIES,
  DEFAULT_DNS_BACKOFF_INITIAL_MS,
  DEFAULT_DNS_BACKOFF_MAX_MS,
  type DnsErrorCode,
  type DnsFamily,
  type DnsResolver,
  type DnsResolverOptions,
} from './dns';
export {
  etcdResolver,
  DEFAULT_ETCD_BACKOFF_INITIAL_MS,
  DEFAULT_ETCD_BACKOFF_MAX_MS,
  type EtcdResolverOptions,
} from './etcd';
export {
  EtcdError,
  isEtcdError,
  DEFAULT_ETCD_HOST,
  DEFAULT_ETCD_REQUEST_TIMEOUT_MS,
  type EtcdClient,
  type EtcdConnectionOptions,
  type EtcdTlsOptions,
} from './etcd-options';
export { ETCD_KEY_FORMATS, DEFAULT_ETCD_PREFIXES, type EtcdKeyFormat } from './etcd-format';
