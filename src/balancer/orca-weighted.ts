import type { Metadata } from '@grpc/grpc-js';
import { booleanOption, checkOptionsObject, durationOption, numberOption } from '../core/options';
import { Arrivals } from './arrivals';
import { EMPTY_PICKER, effectiveWeight } from './common';
import { type LoadReport, loadReportOf } from './orca-report';
import { type AttachedClient, type EndpointChannelSource, followOutOfBand } from './orca-out-of-band';
import { RefreshSchedule, clockOption } from './refresh';
import type { Balancer, Endpoint, PickInfo, Picker } from './types';
import { WeightView, quantizeWeight, rootOf } from './weight-view';
import { weightedRoundRobin } from './weighted-round-robin';

/** Options of orcaWeighted(), named as in gRPC's weighted_round_robin config (gRFC A58). */
export interface OrcaWeightedOptions {
  /** The balancer that schedules over the computed weights. Default weightedRoundRobin(). */
  balancer?: Balancer;
  /** Take reports from the out-of-band stream (OpenRcaService) instead of each call's trailers. Default false. */
  enableOobLoadReport?: boolean;
  /** Report period asked of the server on the out-of-band stream, ms. Default 10 s. */
  oobReportingPeriodMs?: number;
  /** An endpoint's weight counts only after it has reported for this long, ms (0: at once). Default 10 s. */
  blackoutPeriodMs?: number;
  /** A weight with no report for this long is dropped (the endpoint gets the mean weight again), ms. Default 3 min. */
  weightExpirationPeriodMs?: number;
  /** How often the weights are recomputed, ms (≥ 100). Default 1 s. */
  weightUpdatePeriodMs?: number;
  /** How much errors count as load: utilization += eps / qps × penalty. Default 1. */
  errorUtilizationPenalty?: number;
  /** Monotonic clock in ms. Default performance.now. */
  now?: () => number;
}

/** gRPC's defaults (gRFC A58), each a compromise its authors measured; kept so both clients behave alike. */
export const DEFAULT_OOB_REPORTING_PERIOD_MS = 10_000;
export const DEFAULT_BLACKOUT_PERIOD_MS = 10_000;
export const DEFAULT_WEIGHT_EXPIRATION_PERIOD_MS = 180_000;
export const DEFAULT_WEIGHT_UPDATE_PERIOD_MS = 1_000;
/** gRPC's floor: recomputing more often than ten times a second only follows noise. */
export const MIN_WEIGHT_UPDATE_PERIOD_MS = 100;
export const DEFAULT_ERROR_UTILIZATION_PENALTY = 1;

/** Weights are kept within these multiples of the mean, as gRPC's scheduler does: one wild report cannot starve or flood an endpoint. */
const MIN_WEIGHT_RATIO = 0.1;
const MAX_WEIGHT_RATIO = 10;

/** What is known of one endpoint's load. */
interface LoadState {
  weight: number;
  /** When the current run of reports began; -1 when there is none (new, reconnected or expired). */
  nonEmptySince: number;
  lastUpdated: number;
  /** When the endpoint last entered the picker, to restart the blackout after an absence. */
  arrivedAt: number;
}

/** What the middleware reads of an attempt: structurally the client's CallContext. */
interface Attempt {
  readonly endpoint?: Endpoint;
  readonly status?: { readonly metadata?: Metadata };
}

/** The middleware an ORCA balancer brings: the client runs it innermost, around every attempt. */
export type LoadReportMiddleware = ((next: (ctx: Attempt) => Promise<void>) => (ctx: Attempt) => Promise<void>) & {
  /** `channels`: the client's control, through which the out-of-band streams reach each endpoint's connection. */
  attach(client: AttachedClient, channels?: EndpointChannelSource): () => void;
};

/** A balancer weighted by the servers' own load reports. */
export interface OrcaWeightedBalancer extends Balancer {
  /** Reads each attempt's load report (or runs the out-of-band streams); createClient adds it to the chain itself. */
  readonly middleware: LoadReportMiddleware;
}

/**
 * Weights from the servers' own load reports (ORCA, gRFC A51), computed as gRPC's
 * weighted_round_robin does (gRFC A58), so a server that is slower or busier than the others gets
 * less traffic without anyone setting weights:
 *
 *     weight = qps / (utilization + eps / qps × errorUtilizationPenalty)
 *
 * with utilization the report's application_utilization when set, else its cpu_utilization.
 * Reports come in each call's `endpoint-load-metrics-bin` trailer (a grpc-js server sends them
 * with the channel option `grpc.server_call_metric_recording` and
 * `call.getMetricsRecorder()`), or with `enableOobLoadReport` from the OpenRcaService stream
 * opened on each endpoint's own connection (a grpc-js server offers it with
 * `new ServerMetricRecorder().addToServer(server)`).
 *
 * An endpoint's weight counts only after it has reported for `blackoutPeriodMs` (a fresh server's
 * first figures are noise) and is dropped when no report came for `weightExpirationPeriodMs`; an
 * endpoint coming back into the picker starts its blackout again. Endpoints without a usable
 * weight get the mean of the others; with fewer than two weights every endpoint counts the same.
 * Weights are kept within 0.1× and 10× the mean. The configured instance weights are not used.
 *
 * The weights are recomputed every `weightUpdatePeriodMs` and the inner balancer's picker rebuilt
 * over them; the pick itself is the inner picker's (O(1) for weighted round robin) plus a counter,
 * and allocates nothing.
 */
export function orcaWeighted(options?: OrcaWeightedOptions): OrcaWeightedBalancer {
  const factory = 'orcaWeighted';
  checkOptionsObject(factory, options);
  const inner = options?.balancer ?? weightedRoundRobin();
  if (!inner || typeof inner.build !== 'function') throw new TypeError(`${factory}: options.balancer must be a Balancer (an object with build())`);
  const oob = booleanOption(factory, 'options.enableOobLoadReport', options?.enableOobLoadReport, false);
  const oobPeriodMs = durationOption(factory, 'options.oobReportingPeriodMs', options?.oobReportingPeriodMs, DEFAULT_OOB_REPORTING_PERIOD_MS, { min: 1 });
  const config: WeightConfig = {
    blackoutMs: durationOption(factory, 'options.blackoutPeriodMs', options?.blackoutPeriodMs, DEFAULT_BLACKOUT_PERIOD_MS),
    expirationMs: durationOption(factory, 'options.weightExpirationPeriodMs', options?.weightExpirationPeriodMs, DEFAULT_WEIGHT_EXPIRATION_PERIOD_MS, { min: 1 }),
    penalty: numberOption(factory, 'options.errorUtilizationPenalty', options?.errorUtilizationPenalty, DEFAULT_ERROR_UTILIZATION_PENALTY, { atLeast: 0 }),
  };
  const updateMs = durationOption(factory, 'options.weightUpdatePeriodMs', options?.weightUpdatePeriodMs, DEFAULT_WEIGHT_UPDATE_PERIOD_MS, {
    min: MIN_WEIGHT_UPDATE_PERIOD_MS,
  });
  const now = clockOption(factory, options?.now);
  const states = new WeakMap<Endpoint, LoadState>();
  const arrivals = new Arrivals();

  const stateOf = (endpoint: Endpoint): LoadState => {
    const root = rootOf(endpoint);
    let state = states.get(root);
    if (state === undefined) states.set(root, (state = { weight: 0, nonEmptySince: -1, lastUpdated: 0, arrivedAt: -1 }));
    return state;
  };
  const record = (endpoint: Endpoint, report: LoadReport) => updateWeight(stateOf(endpoint), report, config.penalty, now());

  const middleware = ((next: (ctx: Attempt) => Promise<void>) => {
    if (oob) return next;
    const read = (ctx: Attempt) => {
      const report = ctx.endpoint === undefined ? undefined : loadReportOf(ctx.status?.metadata);
      if (report !== undefined) record(ctx.endpoint!, report);
    };
    return (ctx: Attempt) => next(ctx).then(() => read(ctx));
  }) as LoadReportMiddleware;
  middleware.attach = (client, channels) => (oob && channels ? followOutOfBand(client, channels, oobPeriodMs, record) : () => undefined);

  return Object.freeze({
    name: `orca_weighted(${inner.name})`,
    middleware,
    build<E extends Endpoint>(endpoints: readonly E[]): Picker<E> {
      if (!Array.isArray(endpoints)) throw new TypeError('build(endpoints): endpoints must be an array');
      // A configured weight ≤ 0 still means "send nothing"; other configured weights give way to the reports.
      const live = endpoints.filter((endpoint) => effectiveWeight(endpoint) > 0);
      if (live.length === 0) return EMPTY_PICKER;
      const since = arrivals.record(live, now());
      const loads = live.map((endpoint, i) => {
        const state = stateOf(endpoint);
        // Back after an absence (reconnected, ejected): its old run of reports no longer counts.
        if (state.arrivedAt !== since[i]) {
          state.arrivedAt = since[i];
          state.nonEmptySince = -1;
        }
        return state;
      });
      return new OrcaPicker(inner, live, loads, config, new RefreshSchedule(now, updateMs), now);
    },
  });
}

interface WeightConfig {
  readonly blackoutMs: number;
  readonly expirationMs: number;
  readonly penalty: number;
}

/** gRFC A58's weight from one report; a report without both qps and utilization is ignored. */
export function reportWeight(report: LoadReport, penalty: number): number {
  const qps = report.qps;
  let utilization = report.applicationUtilization > 0 ? report.applicationUtilization : report.cpuUtilization;
  if (!(qps > 0) || !(utilization > 0)) return 0;
  utilization += (report.eps / qps) * penalty;
  const weight = qps / utilization;
  return Number.isFinite(weight) ? weight : 0;
}

function updateWeight(state: LoadState, report: LoadReport, penalty: number, now: number): void {
  const weight = reportWeight(report, penalty);
  if (weight === 0) return;
  if (state.nonEmptySince < 0) state.nonEmptySince = now;
  state.lastUpdated = now;
  state.weight = weight;
}

/** The weight in force now: 0 while unknown, in blackout or expired. */
function currentWeight(state: LoadState, config: WeightConfig, now: number): number {
  if (state.nonEmptySince < 0) return 0;
  if (now - state.lastUpdated >= config.expirationMs) {
    state.nonEmptySince = -1;
    return 0;
  }
  if (config.blackoutMs > 0 && now - state.nonEmptySince < config.blackoutMs) return 0;
  return state.weight;
}

class OrcaPicker<E extends Endpoint> implements Picker<E> {
  private readonly views: WeightView<E>[];
  private readonly raw: Float64Array;
  private readonly next: Float64Array;
  private inner: Picker<WeightView<E>> = EMPTY_PICKER;
  private built = false;

  constructor(
    private readonly balancer: Balancer,
    endpoints: readonly E[],
    private readonly loads: readonly LoadState[],
    private readonly config: WeightConfig,
    private readonly schedule: RefreshSchedule,
    private readonly now: () => number,
  ) {
    this.views = endpoints.map((endpoint) => new WeightView(endpoint, 1));
    this.raw = new Float64Array(endpoints.length);
    this.next = new Float64Array(endpoints.length);
    this.update();
  }

  pick(info: PickInfo): E | undefined {
    if (this.schedule.due()) this.update();
    const view = this.inner.pick(info);
    return view === undefined ? undefined : view.origin;
  }

  private update(): void {
    const t = this.now();
    const { raw, views, next } = this;
    let sum = 0;
    let known = 0;
    for (let i = 0; i < views.length; i++) {
      raw[i] = currentWeight(this.loads[i], this.config, t);
      if (raw[i] > 0) {
        sum += raw[i];
        known++;
      }
    }
    const mean = known >= 2 ? sum / known : 0;
    let changed = !this.built;
    for (let i = 0; i < views.length; i++) {
      let weight = 1;
      if (mean > 0) {
        weight = raw[i] > 0 ? raw[i] : mean;
        if (weight < mean * MIN_WEIGHT_RATIO) weight = mean * MIN_WEIGHT_RATIO;
        else if (weight > mean * MAX_WEIGHT_RATIO) weight = mean * MAX_WEIGHT_RATIO;
        weight = quantizeWeight(weight, mean);
      }
      next[i] = weight;
      if (weight !== views[i].weight) changed = true;
    }
    // Unchanged weights keep the picker, and with it the round-robin position.
    if (!changed) return;
    for (let i = 0; i < views.length; i++) views[i].weight = next[i];
    this.inner = this.balancer.build(views);
    this.built = true;
  }
}
