// The methodConfig part of a gRPC service config as middleware: each method gets the chain its
// config entry asks for — a timeout, then retry or hedging, then waiting for ready endpoints —
// built from this library's own timeout(), retry() and hedge(), so that they behave as
// documented for those.

import { status as Status } from '@grpc/grpc-js';
import { declareKind } from '../core/middleware-kind';
import { abortableSleep } from '../core/sleep';
import { retryBudget } from '../middleware/budget';
import { compose } from '../middleware/compose';
import { hedge } from '../middleware/hedge';
import { retry } from '../middleware/retry';
import { timeout } from '../middleware/timeout';
import type { Middleware, Next } from '../core/middleware';
import type { CallContext } from '../core/context';
import type { MethodPolicy, ParsedServiceConfig } from './service-config';
import type { ClientView } from '../core/view';

export interface MethodConfigOptions {
  /** How long a waitForReady call without a deadline waits for an endpoint (the client's pickTimeoutMs). */
  readonly pickTimeoutMs: number;
  readonly now: () => number;
  readonly random: () => number;
}

/**
 * One middleware applying each method's config, or undefined when no entry asks for anything.
 * Methods are matched as gRPC matches them: service and method, else service, else the entry
 * with an empty name.
 */
export function methodConfigMiddleware(config: ParsedServiceConfig, options: MethodConfigOptions): Middleware | undefined {
  if (config.methods.size === 0) return undefined;
  // One budget for every method's retries and hedges: gRPC throttles per client, not per method.
  const budget = retryBudget(config.retryThrottling ?? {});
  const chains = new Map<MethodPolicy, Middleware[]>();
  for (const policy of config.methods.values()) {
    if (!chains.has(policy)) chains.set(policy, chainFor(policy, budget, options));
  }
  const inner = [...chains.values()].flat();
  const middleware: Middleware = (next) => {
    const byPolicy = new Map<MethodPolicy, Next>();
    for (const [policy, list] of chains) byPolicy.set(policy, compose(list, next));
    const byMethod = new Map<string, Next>();
    return (ctx) => {
      let run = byMethod.get(ctx.method);
      if (run === undefined) {
        const policy = policyFor(config.methods, ctx.method);
        run = (policy && byPolicy.get(policy)) ?? next;
        byMethod.set(ctx.method, run);
      }
      return run(ctx);
    };
  };
  middleware.attach = (client: ClientView) => {
    const detachers = inner.map((mw) => mw.attach?.(client)).filter((d): d is () => void => typeof d === 'function');
    return () => detachers.forEach((detach) => detach());
  };
  return config.retries ? declareKind(middleware, 'config-retry') : middleware;
}

/** '/pkg.Service/Method' → the entry for it, gRPC's way. */
function policyFor(methods: ReadonlyMap<string, MethodPolicy>, path: string): MethodPolicy | undefined {
  const slash = path.lastIndexOf('/');
  const service = path.slice(path.startsWith('/') ? 1 : 0, slash);
  const method = path.slice(slash + 1);
  return methods.get(`${service}/${method}`) ?? methods.get(`${service}/`) ?? methods.get('');
}

function chainFor(policy: MethodPolicy, budget: ReturnType<typeof retryBudget>, options: MethodConfigOptions): Middleware[] {
  const list: Middleware[] = [];
  // gRPC's method timeout bounds every call of the method, streams included.
  if (policy.timeoutMs !== undefined) list.push(policy.timeoutMs > 0 ? timeout(policy.timeoutMs, { streams: true }) : expired);
  if (policy.retry) {
    const r = policy.retry;
    list.push(
      retry({
        maxAttempts: r.maxAttempts,
        retryableCodes: r.retryableCodes,
        initialBackoffMs: r.initialBackoffMs,
        maxBackoffMs: r.maxBackoffMs,
        backoffMultiplier: r.backoffMultiplier,
        attemptTimeoutMs: r.attemptTimeoutMs,
        jitter: 'full',
        budget,
        now: options.now,
        random: options.random,
      }),
    );
  }
  if (policy.hedge) {
    const h = policy.hedge;
    list.push(hedge({ maxAttempts: h.maxAttempts, delayMs: h.delayMs, nonFatalCodes: h.nonFatalCodes, budget, now: options.now }));
  }
  if (policy.waitForReady) list.push(waitForReady(options));
  return list;
}

/** A timeout of 0s: every call is already past its deadline, as in gRPC. */
const expired: Middleware = (next) => (ctx) => {
  ctx.deadline = Math.min(ctx.deadline, ctx.startedAt);
  return next(ctx);
};

/**
 * gRPC's waitForReady: a call that finds no endpoint able to take it (all failing to connect,
 * ejected or not serving) waits for one instead of failing at once — until its deadline or,
 * without one, the client's pickTimeoutMs.
 */
function waitForReady(options: MethodConfigOptions): Middleware {
  return (next) => async (ctx) => {
    const until = Math.min(ctx.effectiveDeadline, options.now() + options.pickTimeoutMs);
    for (;;) {
      await next(ctx);
      if (!unpicked(ctx) || ctx.aborted) return;
      const left = until - options.now();
      if (left <= 0) return;
      await changeOrTimeout(ctx, left);
      // The same attempt again, as none was sent: its outcome starts afresh.
      ctx.resetOutcome();
    }
  };
}

/** The attempt failed before any endpoint took it. */
function unpicked(ctx: CallContext): boolean {
  return ctx.endpoint === undefined && ctx.status !== undefined && ctx.status.code === Status.UNAVAILABLE;
}

/** Waits `ms`, or less when the client's endpoints change or the call is cancelled. */
async function changeOrTimeout(ctx: CallContext, ms: number): Promise<void> {
  const woken = new AbortController();
  const wake = (): void => woken.abort();
  const stop = ctx.client.observe({ onEndpointChanged: wake, onEndpointAdded: wake, onResolved: wake });
  const removeAbortHook = ctx.onAbort(wake);
  await abortableSleep(ms, woken.signal);
  stop();
  removeAbortHook();
}
