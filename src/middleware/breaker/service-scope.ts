import { Metadata, status as Status } from '@grpc/grpc-js';
import type { CallContext } from '../../core/context';
import type { ClientView } from '../../core/view';
import { excerpt } from '../../core/text';
import { PUSHBACK_KEY } from '../budget';
import { endpointBreakerEjects } from '../breaker-registry';
import type { Next } from '../../core/middleware';
import type { BreakerEvents } from './events';
import { BreakerMachine, type MachineOwner } from './machine';
import type { BreakerSettings } from './options';
import { FailurePolicy } from './policy';
import type { BreakerSnapshot, BreakerState } from './types';

/**
 * Breakers per client and key. An open one refuses calls with UNAVAILABLE; after openMs the
 * next call finds it half-open and goes through as a probe (no timer: refusals need calls).
 * Only probes judge a half-open service breaker.
 */
export class ServiceBreakers implements MachineOwner {
  private readonly byClient = new WeakMap<ClientView, Map<string, BreakerMachine>>();
  private readonly clients = new Set<ClientView>();
  private lastClient: ClientView | undefined = undefined;
  private lastBreaker: BreakerMachine | undefined = undefined;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly events: BreakerEvents,
  ) {}

  wrap(next: Next): Next {
    return async (ctx) => {
      const breaker = this.breakerFor(ctx);
      let probe = false;
      if (breaker.state !== 'closed') {
        breaker.refresh();
        if (!breaker.admitting) {
          this.refuse(ctx, breaker);
          return;
        }
        breaker.probeStarted();
        probe = true;
      }
      try {
        await next(ctx);
      } finally {
        if (probe) breaker.probeEnded();
      }
      const status = ctx.status;
      if (status === undefined) return;
      const code = status.code;
      if (code === Status.CANCELLED || (!probe && breaker.state === 'half_open')) return;
      if (this.settings.failures.has(code)) breaker.failure(code, ctx.endpoint?.address);
      else breaker.success();
    };
  }

  changed(machine: BreakerMachine, from: BreakerState, reason: string): void {
    this.events.emit(machine, from, reason);
  }

  private breakerFor(ctx: CallContext): BreakerMachine {
    const client = ctx.client;
    const byKey = this.settings.key;
    if (byKey === undefined && client === this.lastClient && this.lastBreaker !== undefined) return this.lastBreaker;
    const key = byKey === undefined ? ctx.service : byKey(ctx);
    let map = this.byClient.get(client);
    if (map === undefined) this.byClient.set(client, (map = new Map()));
    let breaker = map.get(key);
    if (breaker === undefined) {
      // The service breaker sets aside the failures of one endpoint an endpoint breaker deals with.
      const policy = new FailurePolicy(this.settings.policy, (address) => endpointBreakerEjects(client, address));
      map.set(key, (breaker = new BreakerMachine(this.settings.machine, policy, this, key, ctx.service, ctx.target)));
      breaker.logger = client.logger;
    }
    if (byKey === undefined) {
      this.lastClient = client;
      this.lastBreaker = breaker;
    }
    return breaker;
  }

  private refuse(ctx: CallContext, breaker: BreakerMachine): void {
    const where = `"${ctx.service}" (${ctx.target})${breaker.key === ctx.service ? '' : `, key ${excerpt(breaker.key)}`}`;
    const metadata = new Metadata();
    let message: string;
    if (breaker.state === 'open') {
      const wait = Math.ceil(breaker.openForMs());
      // Tells a retry outside this breaker (gRPC's pushback): not before the breaker lets probes through.
      metadata.set(PUSHBACK_KEY, String(wait));
      message = `${this.settings.name} circuit breaker is open for ${where}: ${breaker.reason}; probing again in ${(wait / 1000).toFixed(1)} s`;
    } else {
      message = `${this.settings.name} circuit breaker is half-open for ${where}: waiting for ${breaker.probes} probe(s) to answer`;
    }
    ctx.fail(Status.UNAVAILABLE, message, metadata);
  }

  attach(client: ClientView): () => void {
    this.clients.add(client);
    return () => {
      this.clients.delete(client);
      this.byClient.delete(client);
      if (this.lastClient === client) {
        this.lastClient = undefined;
        this.lastBreaker = undefined;
      }
    };
  }

  state(key: string): BreakerState | undefined {
    for (const client of this.clients) {
      const breaker = this.byClient.get(client)?.get(key);
      if (breaker) {
        breaker.refresh();
        return breaker.state;
      }
    }
    return undefined;
  }

  states(): BreakerSnapshot[] {
    const out: BreakerSnapshot[] = [];
    for (const client of this.clients) {
      for (const breaker of this.byClient.get(client)?.values() ?? []) {
        breaker.refresh();
        out.push(breaker.snapshot('service'));
      }
    }
    return out;
  }
}
