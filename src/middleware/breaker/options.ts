import { status as Status } from '@grpc/grpc-js';
import type { CallContext } from '../../core/context';
import { monotonicClock } from '../../core/clock';
import { checkOptionsObject, durationOption, functionOption, integerOption, numberOption, oneOfOption, stringOption } from '../../core/options';
import { isEndpointFailure } from '../../core/status';
import { codeSet, timersOption, type Timers } from '../budget';
import type { MachineConfig } from './machine';
import type { PolicyConfig } from './policy';
import type { BreakerListener, BreakerScope, CircuitBreakerOptions } from './types';

/** With a balancer in front, one bad instance is the common failure; the others can take its calls. */
export const DEFAULT_BREAKER_SCOPE: BreakerScope = 'endpoint';
/** Kitex's default: half the calls failing is an outage, not noise. */
export const DEFAULT_ERROR_RATE = 0.5;
/** Kitex's default: a rate over fewer calls says too little to cut a service off. */
export const DEFAULT_MIN_SAMPLES = 200;
/** Kitex's window: long enough to gather minSamples at modest traffic, short enough to forget an old incident. */
export const DEFAULT_WINDOW_MS = 10_000;
/** One-second buckets: the window slides in steps a tenth of its length. */
export const DEFAULT_BUCKETS = 10;
/** Envoy's consecutive_5xx default; catches a dead endpoint at low traffic, where minSamples never fills. */
export const DEFAULT_CONSECUTIVE_FAILURES = 5;
/**
 * Off for the service: a run of failures is what one dying instance produces (the calls that were
 * on it), and a service breaker that opened on it would turn one instance's crash into an outage.
 */
export const DEFAULT_SERVICE_CONSECUTIVE_FAILURES = 0;
/** Finer buckets buy little precision and cost memory and roll time per breaker. */
export const MAX_BUCKETS = 1_000;
/** Kitex's cool-down: time for a restart or a failover to happen, short enough not to waste a healthy instance for long. */
export const DEFAULT_OPEN_MS = 5_000;
/** One call risked per try: a still-broken endpoint costs one failure, not a burst. */
export const DEFAULT_HALF_OPEN_PROBES = 1;
/** At most half: with more ejected, the fault is more likely the client's side or the whole service. */
export const DEFAULT_MAX_EJECTION_SHARE = 0.5;
export const DEFAULT_FAILURE_CODES: readonly Status[] = Object.freeze(
  Object.values(Status)
    .filter((code): code is Status => typeof code === 'number')
    .filter(isEndpointFailure),
);
/** The name of a service breaker in its UNAVAILABLE message. */
const DEFAULT_SERVICE_BREAKER_NAME = 'service';

/** Node's timers, unref'd: an open breaker does not keep the process alive. */
const unrefTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};


/** The options, checked and with their defaults. */
export interface BreakerSettings {
  readonly scope: BreakerScope;
  readonly policy: PolicyConfig;
  readonly machine: MachineConfig;
  readonly failures: ReadonlySet<Status>;
  readonly maxEjectionShare: number;
  readonly key: ((ctx: CallContext) => string) | undefined;
  readonly name: string;
  readonly onStateChange: BreakerListener | undefined;
}

const WHERE = 'circuitBreaker';

export function breakerSettings(options: CircuitBreakerOptions): BreakerSettings {
  checkOptionsObject(WHERE, options, false);
  const scope = oneOfOption(WHERE, 'options.scope', options.scope, DEFAULT_BREAKER_SCOPE, ['endpoint', 'service']);
  const windowMs = durationOption(WHERE, 'options.windowMs', options.windowMs, DEFAULT_WINDOW_MS, { min: 1 });
  const buckets = integerOption(WHERE, 'options.buckets', options.buckets, DEFAULT_BUCKETS, { min: 1 });
  if (buckets > MAX_BUCKETS || windowMs / buckets < 1) {
    throw new RangeError(`${WHERE}: options.buckets must be at most ${MAX_BUCKETS} and leave buckets of at least 1 ms (windowMs ${windowMs}), got ${buckets}`);
  }
  const now = functionOption(WHERE, 'options.now', options.now, monotonicClock);
  const consecutiveDefault = scope === 'service' ? DEFAULT_SERVICE_CONSECUTIVE_FAILURES : DEFAULT_CONSECUTIVE_FAILURES;
  const policy: PolicyConfig = {
    errorRate: numberOption(WHERE, 'options.errorRate', options.errorRate, DEFAULT_ERROR_RATE, { above: 0, atMost: 1 }),
    minSamples: integerOption(WHERE, 'options.minSamples', options.minSamples, DEFAULT_MIN_SAMPLES, { min: 1 }),
    windowMs,
    buckets,
    bucketMs: windowMs / buckets,
    consecutiveFailures: integerOption(WHERE, 'options.consecutiveFailures', options.consecutiveFailures, consecutiveDefault, { min: 0 }),
    now,
  };
  const openMs = durationOption(WHERE, 'options.openMs', options.openMs, DEFAULT_OPEN_MS, { min: 1 });
  const halfOpenProbes = integerOption(WHERE, 'options.halfOpenProbes', options.halfOpenProbes, DEFAULT_HALF_OPEN_PROBES, { min: 1 });
  const timers = options.timers === undefined ? unrefTimers : timersOption(WHERE, options.timers);
  // An ejected endpoint gets no calls to tell its breaker the time is up: endpoint breakers wake on a timer.
  const machine: MachineConfig = scope === 'endpoint' ? { openMs, halfOpenProbes, now, timers } : { openMs, halfOpenProbes, now };
  const maxEjectionShare = numberOption(WHERE, 'options.maxEjectionShare', options.maxEjectionShare, DEFAULT_MAX_EJECTION_SHARE, { above: 0, atMost: 1 });
  const key = functionOption(WHERE, 'options.key', options.key);
  const name = stringOption(WHERE, 'options.name', options.name, DEFAULT_SERVICE_BREAKER_NAME);
  if (scope === 'endpoint') {
    if (options.key !== undefined) throw new TypeError(`${WHERE}: options.key applies to scope 'service' only`);
    if (options.name !== undefined) throw new TypeError(`${WHERE}: options.name applies to scope 'service' only`);
  } else if (options.maxEjectionShare !== undefined) {
    throw new TypeError(`${WHERE}: options.maxEjectionShare applies to scope 'endpoint' only`);
  }
  return {
    scope,
    policy,
    machine,
    failures: codeSet(WHERE, 'failureCodes', options.failureCodes, DEFAULT_FAILURE_CODES),
    maxEjectionShare,
    key,
    name,
    onStateChange: functionOption(WHERE, 'options.onStateChange', options.onStateChange),
  };
}
