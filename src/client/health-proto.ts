import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';

// grpc.health.v1 (health/v1/health.proto from grpc-health-check, the messages and the Check and
// Watch methods) as a protobufjs JSON descriptor. Carried as code, not read from a .proto file at
// run time, so an application bundled into one file (esbuild, webpack) still has it; and turned
// into method definitions only when health checking starts, so apps without it never load the
// protobuf runtime.
const HEALTH_DESCRIPTOR = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
                Health: {
                  methods: {
                    Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse' },
                    Watch: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', responseStream: true },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

type HealthMethod = MethodDefinition<object, object>;
let methods: { Check: HealthMethod; Watch: HealthMethod } | undefined;

/** The health service's Check and Watch, built on first use with grpc-health-check's loader options. */
function healthMethods(): { Check: HealthMethod; Watch: HealthMethod } {
  if (!methods) {
    const { fromJSON } = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
    const definition = fromJSON(HEALTH_DESCRIPTOR as Parameters<typeof fromJSON>[0], { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    methods = { Check: method(definition, 'Check'), Watch: method(definition, 'Watch') };
  }
  return methods;
}

/** One method of the health service in the loaded definition. */
function method(definition: PackageDefinition, name: 'Check' | 'Watch'): HealthMethod {
  const service = definition['grpc.health.v1.Health'];
  const found = 'format' in service ? undefined : service[name];
  if (found === undefined) throw new Error(`grpc.health.v1.Health.${name} is missing from the health descriptor`);
  return found;
}

/** A method whose definition is built when first read. */
function lazyMethod(name: 'Check' | 'Watch'): Pick<HealthMethod, 'path' | 'requestSerialize' | 'responseDeserialize'> {
  return {
    get path() {
      return healthMethods()[name].path;
    },
    get requestSerialize() {
      return healthMethods()[name].requestSerialize;
    },
    get responseDeserialize() {
      return healthMethods()[name].responseDeserialize;
    },
  };
}

export const WATCH = lazyMethod('Watch');
export const CHECK = lazyMethod('Check');
