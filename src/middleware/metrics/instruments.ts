// The series of one registry and what feeds them, shared by every metrics() instance on that
// registry so that clients add up instead of colliding on names.

import type { Registry } from 'prom-client';
import type { CallContext } from '../../core/context';
import type { Counter, Gauge } from '../prom-client-lazy';
import { AttachedClients } from './attached-clients';
import { FollowedBreakers } from './breakers';
import { MethodTable, type MethodCells } from './call-cells';
import { setClients, setEndpointStates, setResolutionAges } from './client-gauges';
import { EndpointCounts } from './endpoint-cells';
import { METRIC_NAMES, SERIES, type Labels, type SeriesDefinition } from './names';
import { sameNumbers, SeriesFactory } from './registry-series';
import { StreamTracker } from './streams';

export class Instruments {
  private static readonly byRegistry = new WeakMap<Registry, Instruments>();

  readonly methods: MethodTable;
  readonly streams = new StreamTracker();
  readonly endpoints: EndpointCounts;
  readonly breakers: FollowedBreakers;
  readonly clients: AttachedClients;
  /**
   * Flushes of counters registered by the user beforehand, which cannot flush themselves at
   * scrape: run as each call ends. Empty unless such a counter was taken over.
   */
  readonly settle: readonly (() => void)[];

  /** The method label sets in use, kept (zeroed) in the handling-time histogram through a reset. */
  private readonly labelSets = new Set<Labels>();
  private readonly bounds: readonly number[];
  private readonly started: Counter<string>;
  private readonly clientsGauge: Gauge<string>;

  /** The instruments of `registry`, made on first use; `buckets` must match those already there. */
  static of(registry: Registry, buckets: readonly number[] | undefined, now: () => number): Instruments {
    const known = Instruments.byRegistry.get(registry);
    if (known && known.registeredOn(registry)) {
      if (buckets && !sameNumbers(buckets, known.bounds)) {
        throw new TypeError(
          `metrics: ${METRIC_NAMES.handlingSeconds} is already on this registry with buckets [${known.bounds.join(', ')}], not [${buckets.join(', ')}]`,
        );
      }
      return known;
    }
    const made = new Instruments(registry, buckets, now);
    Instruments.byRegistry.set(registry, made);
    return made;
  }

  private constructor(registry: Registry, buckets: readonly number[] | undefined, now: () => number) {
    const make = new SeriesFactory(registry);
    const settle: (() => void)[] = [];
    /** A counter fed by `flush`: at scrape, or as calls end when it was registered beforehand. */
    const buffered = (definition: SeriesDefinition, flush: (counter: Counter<string>) => void): Counter<string> => {
      const series = make.counter(definition, flush);
      if (series.adopted) settle.push(() => flush(series.counter));
      return series.counter;
    };
    /** A counter fed as events happen. */
    const direct = (definition: SeriesDefinition): Counter<string> => make.counter(definition).counter;

    // In the order of the exposition text, which is the order of registration.
    this.started = buffered(SERIES.started, (c) => this.methods.flushStarted(c));
    buffered(SERIES.handled, (c) => this.methods.flushHandled(c));
    const handling = make.histogram(SERIES.handlingSeconds, buckets, this.labelSets);
    this.bounds = handling.bounds;
    this.methods = new MethodTable(handling.histogram, this.labelSets);
    buffered(SERIES.msgReceived, (c) => this.takeMessages(c, 'received'));
    buffered(SERIES.msgSent, (c) => this.takeMessages(c, 'sent'));
    buffered(SERIES.attempts, (c) => this.methods.flushAttempts(c));
    const endpointCalls = make.counter(SERIES.endpointCalls, () => this.endpoints.flushCalls(true));
    if (endpointCalls.adopted) settle.push(() => this.endpoints.flushCalls(false));
    this.endpoints = new EndpointCounts(endpointCalls.counter, (client) => this.clients.has(client));
    buffered(SERIES.pickFailures, (c) => this.endpoints.flushPickFailures(c));
    const resolverUpdates = direct(SERIES.resolverUpdates);
    const resolverErrors = direct(SERIES.resolverErrors);
    make.gauge(SERIES.endpoints, (gauge) => setEndpointStates(gauge, this.clients.views()));
    make.gauge(SERIES.resolutionAge, (gauge) => setResolutionAges(gauge, this.clients.views(), now()));
    this.clientsGauge = make.gauge(SERIES.clients, (gauge) => setClients(gauge, this.clients.views()));
    this.breakers = new FollowedBreakers(direct(SERIES.breakerTransitions));
    make.gauge(SERIES.breakers, (gauge) => this.breakers.setStates(gauge));
    this.clients = new AttachedClients({
      resolverUpdates,
      resolverErrors,
      endpointGone: (endpoint) => this.endpoints.close(endpoint),
      breaker: (breaker) => this.breakers.follow(breaker),
    });
    this.settle = settle;
  }

  /** The cells of the method `ctx` calls. */
  method(ctx: CallContext): MethodCells {
    return this.methods.of(ctx);
  }

  private takeMessages(counter: Counter<string>, field: 'sent' | 'received'): void {
    this.streams.takeAll();
    this.methods.flushMessages(counter, field);
  }

  /** Whether these are still the registry's series: registry.clear() drops them, and they are made again. */
  private registeredOn(registry: Registry): boolean {
    return registry.getSingleMetric(METRIC_NAMES.started) === this.started && registry.getSingleMetric(METRIC_NAMES.clients) === this.clientsGauge;
  }
}
