export {
  consulRegistry,
  type ConsulCheck,
  type ConsulRegistration,
  type ConsulRegistry,
  type ConsulRegistryOptions,
  type Duration,
  type GrpcCheck,
  type HttpCheck,
  type RegisteredInstance,
  type ShutdownableServer,
  type ShutdownOptions,
  type TcpCheck,
  type TtlCheck,
} from './consul';
export {
  etcdRegistry,
  type EtcdRegisteredInstance,
  type EtcdRegistration,
  type EtcdRegistry,
  type EtcdRegistryOptions,
} from './etcd';
