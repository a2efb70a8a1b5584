// Making the series on the caller's registry, or taking over ones already there. Only
// prom-client's public API is used: metrics are made with their constructors (`collect` brings a
// series up to date at scrape time), and a metric the user registered beforehand is written to
// with its own inc() and observe(), never altered.

import type { Registry } from 'prom-client';
import { promClient, type Counter, type Gauge, type Histogram } from '../prom-client-lazy';
import { DEFAULT_HANDLING_SECONDS_BUCKETS, type Labels, type SeriesDefinition, type SeriesType } from './names';

/**
 * A counter as the hot path feeds it. Counts wait in plain numbers and are moved in by `flush`:
 * a counter this library made flushes itself at scrape (its `collect`); one the user registered
 * beforehand cannot be made to, so it is `adopted` and flushed as calls end.
 */
export interface CounterSeries {
  readonly counter: Counter<string>;
  readonly adopted: boolean;
}

export interface HistogramSeries {
  readonly histogram: Histogram<string>;
  readonly bounds: readonly number[];
}

/** What a registered metric was made with; prom-client keeps its constructor's options on it. */
interface MadeWith {
  readonly type: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[] | undefined;
}

/** Reads, and only reads, the configuration a metric found on the registry was made with. */
function madeWith(metric: object): MadeWith {
  const type = 'type' in metric && typeof metric.type === 'string' ? metric.type : 'metric';
  const names: unknown[] = 'labelNames' in metric && Array.isArray(metric.labelNames) ? metric.labelNames : [];
  const bounds: unknown[] | undefined = 'buckets' in metric && Array.isArray(metric.buckets) ? metric.buckets : undefined;
  return {
    type,
    labelNames: names.filter((n): n is string => typeof n === 'string'),
    buckets: bounds?.filter((b): b is number => typeof b === 'number'),
  };
}

export function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sorted = [...b].sort();
  return a.length === b.length && [...a].sort().every((x, i) => x === sorted[i]);
}

/**
 * Makes a registry's metrics, or takes over one of the same name already there when it has the
 * same type and labels (registered by the user to give it other help text or buckets, or by
 * another copy of this library). Anything else of that name is a conflict, reported by name.
 */
export class SeriesFactory {
  constructor(private readonly registry: Registry) {}

  /** `flush` brings a counter made here up to date at scrape; one taken over is `adopted`, and left as it is. */
  counter(definition: SeriesDefinition, flush?: (counter: Counter<string>) => void): CounterSeries {
    const { Counter } = promClient();
    const found = this.existing(definition);
    if (found instanceof Counter) return { counter: found, adopted: true };
    if (found !== undefined) throw this.foreign(definition);
    const { name, help, labelNames } = definition;
    const collect = flush && (() => flush(counter));
    const counter: Counter<string> = new Counter({ name, help, labelNames, registers: [this.registry], collect });
    return { counter, adopted: false };
  }

  /** Gauges are computed whole at scrape from this registry's clients: one already there would compete, so it is a conflict. */
  gauge(definition: SeriesDefinition, compute: (gauge: Gauge<string>) => void): Gauge<string> {
    const { name, help, labelNames } = definition;
    if (this.registry.getSingleMetric(name) !== undefined) {
      throw new TypeError(`metrics: the registry already has ${name}, registered by hand or by another copy of this library: remove it or give metrics() another registry`);
    }
    const gauge: Gauge<string> = new (promClient().Gauge)({ name, help, labelNames, registers: [this.registry], collect: () => compute(gauge) });
    return gauge;
  }

  /**
   * Without `buckets`, a histogram already there is taken with its own; with them, it must have
   * the same. One made here keeps the series of `known` label sets on registry.resetMetrics(),
   * zeroed: a scrape then reads 0, not a series that vanished.
   */
  histogram(definition: SeriesDefinition, buckets: readonly number[] | undefined, known: ReadonlySet<Labels>): HistogramSeries {
    const { Histogram } = promClient();
    const found = this.existing(definition);
    if (found instanceof Histogram) {
      const bounds = madeWith(found).buckets ?? DEFAULT_HANDLING_SECONDS_BUCKETS;
      if (buckets && !sameNumbers(buckets, bounds)) {
        throw new TypeError(`metrics: the registry already has ${definition.name} with buckets [${bounds.join(', ')}], not [${buckets.join(', ')}]`);
      }
      return { histogram: found, bounds };
    }
    if (found !== undefined) throw this.foreign(definition);
    const bounds = Object.freeze([...(buckets ?? DEFAULT_HANDLING_SECONDS_BUCKETS)]);
    class ZeroedOnReset extends Histogram<string> {
      override reset(): void {
        super.reset();
        for (const labels of known) this.zero(labels);
      }
    }
    const { name, help, labelNames } = definition;
    return { histogram: new ZeroedOnReset({ name, help, labelNames, buckets: [...bounds], registers: [this.registry] }), bounds };
  }

  /** The metric of that name already on the registry, when it has the type and labels wanted. */
  private existing(definition: SeriesDefinition): object | undefined {
    const found: object | undefined = this.registry.getSingleMetric(definition.name);
    if (found === undefined) return undefined;
    const made = madeWith(found);
    if (made.type !== definition.type || !sameSet(made.labelNames, definition.labelNames)) throw this.conflict(definition, made);
    return found;
  }

  /** Written to only through its own methods, a metric must come from the prom-client this library loads. */
  private foreign(definition: SeriesDefinition): TypeError {
    return new TypeError(
      `metrics: the registry already has ${definition.name}, made with another copy of prom-client than this library's: remove it or give metrics() another registry`,
    );
  }

  private conflict(definition: SeriesDefinition, made: MadeWith): TypeError {
    const wanted: SeriesType = definition.type;
    return new TypeError(
      `metrics: the registry already has ${definition.name} as a ${made.type} with labels [${[...made.labelNames].sort().join(', ')}]; ` +
        `this library needs a ${wanted} with labels [${definition.labelNames.join(', ')}]: remove it or give metrics() another registry`,
    );
  }
}
