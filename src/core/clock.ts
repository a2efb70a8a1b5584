// Time as the library reads it. createClient takes one clock (its `now` option) and hands it to
// everything it builds, so a test can drive a whole client by hand; parts built on their own
// (resolvers, middleware) take the same kind of function as their `now` option.

/** Wall-clock time in epoch ms: what deadlines and "last resolved at" are in. */
export type Clock = () => number;

/** Monotonic time in ms, fractions included: what durations and moving averages are measured in. */
export type MonotonicClock = () => number;

/** The system's wall clock. */
export const systemClock: Clock = () => Date.now();

/** The system's monotonic clock (sub-millisecond, never steps back). */
export const monotonicClock: MonotonicClock = () => performance.now();
