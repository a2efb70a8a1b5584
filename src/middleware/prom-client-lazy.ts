import type * as PromClient from 'prom-client';

// prom-client, loaded when the first series is made: the metrics middleware is exported from the
// package root, and apps that never call metrics() should not pay for loading prom-client.

export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;

let loaded: typeof PromClient | undefined;

/** prom-client's module, required on first use. */
export function promClient(): typeof PromClient {
  loaded ??= require('prom-client') as typeof PromClient;
  return loaded;
}
