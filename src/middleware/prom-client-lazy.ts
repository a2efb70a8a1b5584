import type * as PromClient from 'prom-client';

// prom-client's metric classes, loaded on the first `new`: the metrics middleware is exported from
// the package root, and apps that never call metrics() should not pay for loading prom-client.

export type Counter<T extends string = string> = PromClient.Counter<T>;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;

function load(): typeof PromClient {
  return require('prom-client') as typeof PromClient;
}

// A constructor that returns the real instance: `new Counter(...)` gives prom-client's own object.
export const Counter = function Counter(configuration: PromClient.CounterConfiguration<string>) {
  return new (load().Counter)(configuration);
} as unknown as typeof PromClient.Counter;

export const Gauge = function Gauge(configuration: PromClient.GaugeConfiguration<string>) {
  return new (load().Gauge)(configuration);
} as unknown as typeof PromClient.Gauge;
