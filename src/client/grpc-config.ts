// Where createClient's options meet gRPC's own ways of configuring a channel: a service config
// (the `serviceConfig` option, or `grpc.service_config` in channelOptions as grpc-js users write
// it) and grpc-js's retries. Every endpoint has its own private channel, so a service config left
// in its options would balance over one address and retry on one address — a second, hidden
// layer under the middleware. It is read here instead and mapped onto the client's balancer,
// middleware and health checking; the channels keep only what is theirs.

import type { ChannelOptions } from '@grpc/grpc-js';
import type { Balancer } from '../balancer/types';
import { isRetryLayer } from '../core/middleware-kind';
import type { Middleware } from '../core/middleware';
import type { HealthCheckOptions } from './health-check';
import { methodConfigMiddleware } from './method-config';
import { parseServiceConfig } from './service-config';
import type { ClientOptions } from './types';

const SERVICE_CONFIG_KEY = 'grpc.service_config';
const ENABLE_RETRIES_KEY = 'grpc.enable_retries';

export interface GrpcConfig {
  readonly balancer: Balancer | undefined;
  readonly middleware: readonly Middleware[];
  readonly healthCheck: boolean | HealthCheckOptions | undefined;
  /** Channel options for every endpoint's channel: without a service config; retries off when the chain retries. */
  readonly channelOptions: ChannelOptions;
}

/**
 * The balancer, middleware, health checking and channel options that `options` ask for, the
 * service config included. Throws naming the option when two of them say the same thing
 * differently (a balancer and a loadBalancingConfig, two retry layers).
 */
export function grpcConfig(options: ClientOptions, defaults: { pickTimeoutMs: number; now: () => number; random: () => number }): GrpcConfig {
  const given = options.channelOptions ?? {};
  if (given === null || typeof given !== 'object') throw new TypeError('createClient: options.channelOptions must be an object of grpc-js channel options');
  const userMiddleware = options.middleware ?? [];
  if (!Array.isArray(userMiddleware)) throw new TypeError('createClient: options.middleware must be an array');
  const { [SERVICE_CONFIG_KEY]: fromChannel, ...channelOptions } = given as ChannelOptions;
  if (fromChannel !== undefined && options.serviceConfig !== undefined) {
    throw new TypeError(`createClient: give a service config once, as options.serviceConfig or as channelOptions['${SERVICE_CONFIG_KEY}'], not both`);
  }
  const source = options.serviceConfig !== undefined ? 'options.serviceConfig' : `channelOptions['${SERVICE_CONFIG_KEY}']`;
  const raw = options.serviceConfig ?? fromChannel;
  const config = raw === undefined ? undefined : parseServiceConfig(raw, source);

  let balancer = options.balancer;
  if (config?.balancer) {
    if (balancer !== undefined) throw new TypeError(`createClient: options.balancer and ${source}.loadBalancingConfig both choose a balancer; give one`);
    balancer = config.balancer;
  }
  let healthCheck = options.healthCheck;
  if (config?.healthCheck) {
    if (healthCheck !== undefined) throw new TypeError(`createClient: options.healthCheck and ${source}.healthCheckConfig both configure health checking; give one`);
    healthCheck = { service: config.healthCheck.service };
  }
  const userRetries = userMiddleware.some(isRetryLayer);
  if (config?.retries && userRetries) {
    throw new TypeError(
      `createClient: ${source} has a retryPolicy or hedgingPolicy and options.middleware has a retry() or hedge(): calls would be retried by both, ` +
        'multiplying attempts; keep one',
    );
  }
  const fromConfig = config && methodConfigMiddleware(config, defaults);
  // Innermost: the user's middleware sees each call once, as a grpc-js interceptor sees it.
  const middleware = fromConfig ? [...userMiddleware, fromConfig] : userMiddleware;
  if ((userRetries || config?.retries) && channelOptions[ENABLE_RETRIES_KEY] === undefined) {
    // The chain decides how often a request is sent; grpc-js on each channel must not add to it.
    channelOptions[ENABLE_RETRIES_KEY] = 0;
  }
  return { balancer, middleware, healthCheck, channelOptions };
}
