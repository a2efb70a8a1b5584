import { status as Status } from '@grpc/grpc-js';
import type { CallContext } from '../../core/context';
import type { ClientControl, ClientView, EndpointEjection, EndpointView } from '../../core/view';
import type { Next } from '../../core/middleware';
import type { BreakerEvents } from './events';
import { BreakerMachine, type MachineOwner, type OpenVerdict } from './machine';
import type { BreakerSettings } from './options';
import { FailurePolicy } from './policy';
import type { BreakerSnapshot, BreakerState } from './types';

/**
 * The breaker of one endpoint. Whether the endpoint is in the picker follows from the machine's
 * state alone (see sync): out while open, and while half-open with every probe slot taken.
 */
class EndpointBreaker implements MachineOwner {
  readonly machine: BreakerMachine;

  constructor(
    private readonly scope: EndpointBreakers,
    private readonly client: ClientView,
    private readonly ejection: EndpointEjection,
    private readonly endpoint: EndpointView,
    ctx: CallContext,
  ) {
    const settings = scope.settings;
    this.machine = new BreakerMachine(settings.machine, new FailurePolicy(settings.policy), this, endpoint.address, ctx.service, ctx.target);
    this.machine.logger = client.logger;
  }

  /** An answer of the endpoint; `probe` when it answers this breaker's half-open probe. */
  record(code: Status, probe: boolean): void {
    const machine = this.machine;
    if (machine.state === 'open') return;
    if (probe) machine.probeEnded();
    // Half-open, every answer counts, a probe's or that of a call sent before the breaker opened;
    // our own cancel counts neither way.
    if (code !== Status.CANCELLED) {
      if (this.scope.settings.failures.has(code)) machine.failure(code, undefined);
      else machine.success();
    }
    this.sync(undefined);
  }

  probeStarted(): void {
    this.machine.probeStarted();
    this.sync(undefined);
  }

  probeEnded(): void {
    this.machine.probeEnded();
    this.sync(undefined);
  }

  changed(machine: BreakerMachine, from: BreakerState, reason: string): void {
    const to = machine.state;
    this.sync(to === 'open' ? reason : to === 'half_open' ? 'half-open: probing' : undefined);
    this.scope.events.emit(machine, from, reason);
  }

  beforeOpen(_machine: BreakerMachine, reason: string): OpenVerdict {
    const endpoint = this.endpoint;
    if (endpoint.draining || endpoint.state === 'shutdown') return false;
    // Ejecting it would leave too few endpoints: it stays in, and the next failure asks again.
    if (!this.scope.mayEject(this.client, endpoint)) return `${reason}, but ejecting it would pass the max ejection share`;
    return true;
  }

  /** The one place the breaker moves its endpoint in or out of the picker; `reason` is logged when given. */
  private sync(reason: string | undefined): void {
    const out = !this.machine.admitting;
    if (out === this.endpoint.ejected) return;
    if (out) this.ejection.eject(this.endpoint, reason);
    else this.ejection.restore(this.endpoint, reason);
  }
}

/**
 * Breakers per endpoint, kept in a WeakMap on the endpoint object so they go with it. An open
 * breaker ejects its endpoint; after openMs a timer lets it back in half-open. A half-open
 * endpoint's pick is a probe (the `picked` hook); the answer to it is judged in `settle`.
 */
export class EndpointBreakers {
  private readonly breakers = new WeakMap<EndpointView, EndpointBreaker>();
  /** The clients attached, each with the control it handed over. */
  private readonly clients = new Map<ClientView, EndpointEjection>();
  /** Attempts sent to half-open endpoints and not yet answered, with where they went. */
  private readonly probing = new WeakMap<CallContext, EndpointView>();
  private probesOut = 0;

  constructor(
    readonly settings: BreakerSettings,
    readonly events: BreakerEvents,
  ) {}

  wrap(next: Next): Next {
    return async (ctx) => {
      try {
        await next(ctx);
      } finally {
        this.settle(ctx);
      }
    };
  }

  /** After an attempt, also one that threw: frees its probe slot and records its outcome. */
  private settle(ctx: CallContext): void {
    const endpoint = ctx.endpoint;
    const status = ctx.status;
    // Only while probes are out is there a probe to look for: a counter spares the lookup.
    let probe = false;
    if (this.probesOut > 0) {
      const probed = this.probing.get(ctx);
      if (probed !== undefined) {
        this.probing.delete(ctx);
        this.probesOut--;
        probe = probed === endpoint && status !== undefined;
        // The probe ended without an answer to judge: free its slot.
        if (!probe) this.breakers.get(probed)?.probeEnded();
      }
    }
    if (endpoint === undefined || status === undefined) return;
    let breaker = this.breakers.get(endpoint);
    if (breaker === undefined) {
      // Only the endpoints of a client this breaker is attached to: it acts through that client's control.
      const ejection = this.clients.get(ctx.client);
      if (ejection === undefined) return;
      this.breakers.set(endpoint, (breaker = new EndpointBreaker(this, ctx.client, ejection, endpoint, ctx)));
    }
    breaker.record(status.code, probe);
  }

  /** The pick of an attempt, before it is sent: a half-open endpoint's pick is a probe. */
  picked(ctx: CallContext, endpoint: EndpointView): void {
    const breaker = this.breakers.get(endpoint);
    if (breaker === undefined || breaker.machine.state !== 'half_open') return;
    const earlier = this.probing.get(ctx);
    if (earlier !== undefined) {
      // A second pick before this middleware saw the first answer: it sits above a retry.
      this.breakers.get(earlier)?.probeEnded();
      this.probesOut--;
    }
    this.probing.set(ctx, endpoint);
    this.probesOut++;
    breaker.probeStarted();
  }

  /**
   * Whether the endpoint at `address` is this breaker's business: ejected, or within the max
   * ejection share to be, with others left to take its calls. One that has left the client
   * (a crashed instance deregistered) counts too.
   */
  canEject(client: ClientView, address: string): boolean {
    if (!this.clients.has(client)) return false;
    for (const endpoint of client.endpoints()) {
      if (endpoint.address !== address) continue;
      if (endpoint.draining || endpoint.ejected) return true;
      return this.mayEject(client, endpoint);
    }
    return true;
  }

  /** The max ejection share, over the client's endpoints that are not draining. */
  mayEject(client: ClientView, endpoint: EndpointView): boolean {
    let total = 0;
    let ejected = 0;
    for (const other of client.endpoints()) {
      if (other.draining) continue;
      total++;
      if (other !== endpoint && other.ejected) ejected++;
    }
    return ejected + 1 <= Math.floor(total * this.settings.maxEjectionShare);
  }

  attach(client: ClientView, control: ClientControl | undefined): () => void {
    if (control === undefined) throw new TypeError("circuitBreaker: an endpoint breaker ejects through the client's control; attach(client, control) was given none");
    this.clients.set(client, control);
    const drop = (endpoint: EndpointView) => {
      this.breakers.get(endpoint)?.machine.dispose();
      this.breakers.delete(endpoint);
    };
    const stop = client.observe({ onEndpointRemoved: drop });
    return () => {
      stop();
      this.clients.delete(client);
      for (const endpoint of client.endpoints()) drop(endpoint);
    };
  }

  state(address: string): BreakerState | undefined {
    for (const client of this.clients.keys()) {
      for (const endpoint of client.endpoints()) {
        if (endpoint.address === address) return this.breakers.get(endpoint)?.machine.state ?? 'closed';
      }
    }
    return undefined;
  }

  states(): BreakerSnapshot[] {
    const out: BreakerSnapshot[] = [];
    for (const client of this.clients.keys()) {
      for (const endpoint of client.endpoints()) {
        const breaker = this.breakers.get(endpoint);
        if (breaker) out.push(breaker.machine.snapshot('endpoint'));
      }
    }
    return out;
  }
}
