import { status as Status } from '@grpc/grpc-js';
import type { Logger } from '../../core/logger';
import type { MonotonicClock } from '../../core/clock';
import type { Timers } from '../budget';
import type { BreakerScope, BreakerSnapshot, BreakerState, OpenPolicy } from './types';

/** The machine's state: each state carries what only it needs. */
type State =
  | { readonly name: 'closed' }
  | { readonly name: 'open'; readonly until: number; readonly reason: string }
  | { readonly name: 'half_open'; probes: number; successes: number };

/** One object for every closed machine: the closed state carries nothing, and closing allocates nothing. */
const CLOSED: State = Object.freeze({ name: 'closed' });

export interface MachineConfig {
  readonly openMs: number;
  /** Calls let through at once while half-open; that many successes close the breaker. */
  readonly halfOpenProbes: number;
  readonly now: MonotonicClock;
  /**
   * Given: an open machine turns half-open on a timer (an ejected endpoint gets no calls to tell
   * it the time is up). Absent: when next asked, in refresh().
   */
  readonly timers?: Timers;
}

/** Answer of beforeOpen: open; keep the present state; or a reason to close instead (when half-open). */
export type OpenVerdict = true | false | string;

/** What the machine's owner (a scope) is told and asked. */
export interface MachineOwner {
  /** After every transition, with the new state in place. */
  changed(machine: BreakerMachine, from: BreakerState, reason: string): void;
  /** Before opening: whether it may. Default: it may. */
  beforeOpen?(machine: BreakerMachine, reason: string): OpenVerdict;
}

/**
 * One circuit breaker: closed, open until a time, or half-open with probes in flight. Every
 * transition goes through `to()`, which tells the owner; what makes a closed breaker open is the
 * policy's business, what opening means (ejecting an endpoint, refusing calls) the owner's.
 *
 * Closed, judging an outcome allocates nothing: it is one call into the policy.
 */
export class BreakerMachine {
  /** Where transitions are told: the logger of the client the breaker belongs to. */
  logger: Logger | undefined = undefined;
  private current: State = CLOSED;
  private timer: unknown = undefined;

  constructor(
    private readonly config: MachineConfig,
    private readonly policy: OpenPolicy,
    private readonly owner: MachineOwner,
    /** The endpoint's address, or the service breaker's key. */
    readonly key: string,
    readonly service: string,
    readonly target: string,
  ) {}

  get state(): BreakerState {
    return this.current.name;
  }

  /** Why an open breaker opened; '' otherwise. */
  get reason(): string {
    return this.current.name === 'open' ? this.current.reason : '';
  }

  /** How long until an open breaker lets probes through; 0 unless open. */
  openForMs(): number {
    return this.current.name === 'open' ? Math.max(0, this.current.until - this.config.now()) : 0;
  }

  /** Probes in flight while half-open; 0 otherwise. */
  get probes(): number {
    return this.current.name === 'half_open' ? this.current.probes : 0;
  }

  /** Whether a call may go through: closed, or half-open with a probe slot free. */
  get admitting(): boolean {
    const state = this.current;
    return state.name === 'closed' || (state.name === 'half_open' && state.probes < this.config.halfOpenProbes);
  }

  /** An open machine whose time is up turns half-open. */
  refresh(): void {
    const state = this.current;
    if (state.name === 'open' && this.config.now() >= state.until) this.halfOpen();
  }

  /** A call goes through a half-open breaker: it is a probe. */
  probeStarted(): void {
    if (this.current.name === 'half_open') this.current.probes++;
  }

  /** A probe has answered, or ended without an answer: its slot is free. */
  probeEnded(): void {
    if (this.current.name === 'half_open' && this.current.probes > 0) this.current.probes--;
  }

  success(): void {
    const state = this.current;
    if (state.name === 'closed') this.policy.success();
    else if (state.name === 'half_open' && ++state.successes >= this.config.halfOpenProbes) this.to(CLOSED, `${state.successes} probe(s) succeeded`);
  }

  /** A failure with `code`, from the endpoint at `address` when one was reached. */
  failure(code: Status, address: string | undefined): void {
    const state = this.current;
    if (state.name === 'closed') {
      const reason = this.policy.failure(address);
      if (reason !== undefined) this.open(reason);
    } else if (state.name === 'half_open') {
      this.open(`probe failed with ${Status[code]}`);
    }
  }

  snapshot(scope: BreakerScope): BreakerSnapshot {
    const counts = this.policy.counts();
    return { scope, key: this.key, service: this.service, state: this.current.name, ...counts, halfOpenInMs: this.openForMs() };
  }

  /** The machine is dropped: its timer goes with it. */
  dispose(): void {
    this.stopTimer();
  }

  private open(reason: string): void {
    const verdict = this.owner.beforeOpen?.(this, reason) ?? true;
    if (verdict === true) this.to({ name: 'open', until: this.config.now() + this.config.openMs, reason }, reason);
    else if (typeof verdict === 'string' && this.current.name === 'half_open') this.to(CLOSED, verdict);
  }

  private halfOpen(): void {
    this.to({ name: 'half_open', probes: 0, successes: 0 }, `open for ${this.config.openMs / 1000} s`);
  }

  /** Every transition: the new state, its timer, a fresh policy on closing, then the owner is told. */
  private to(next: State, reason: string): void {
    const from = this.current.name;
    this.stopTimer();
    this.current = next;
    const timers = this.config.timers;
    if (next.name === 'open' && timers !== undefined) {
      // The timer's firing is the signal, not the clock: a timer may fire a fraction of a ms early.
      this.timer = timers.setTimeout(() => {
        this.timer = undefined;
        if (this.current === next) this.halfOpen();
      }, this.config.openMs);
    }
    if (next.name === 'closed') this.policy.reset();
    this.owner.changed(this, from, reason);
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    this.config.timers?.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
