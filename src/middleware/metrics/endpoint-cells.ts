// Attempts by endpoint and outcome class (grpc_lb_endpoint_calls_total), and attempts that
// reached no endpoint (grpc_lb_pick_failures_total). Per-endpoint series are removed when their
// endpoint leaves, so address churn does not grow the label sets.

import { status as Status } from '@grpc/grpc-js';
import type { ClientView } from '../../core/view';
import { isEndpointFailure } from '../../core/status';
import type { Counter } from '../prom-client-lazy';
import type { EndpointReading } from './endpoint-reading';
import { grpcCodeLabel, type CodeClass, type Labels } from './names';

class EndpointCells {
  ok = 0;
  endpointError = 0;
  otherError = 0;
  /** All three classes are in the counter, zeros included. */
  shown = false;

  constructor(
    /** (service, address): endpoints of several clients may share it. */
    readonly key: string,
    readonly labels: Readonly<Record<CodeClass, Labels>>,
  ) {}
}

interface PickFailures {
  readonly labels: Labels;
  count: number;
}

export class EndpointCounts {
  private readonly cells = new Map<EndpointReading, EndpointCells>();
  /** Endpoint objects (of any client) counted under one (service, address): the series goes when the last one leaves. */
  private readonly refs = new Map<string, number>();
  private readonly failedPicks = new Map<string, PickFailures>();

  constructor(
    private readonly calls: Counter<string>,
    /**
     * Whether metrics are attached to the client, so that its endpoints' leaving will remove
     * their series: a client never attached would leave them behind for good.
     */
    private readonly attached: (client: ClientView) => boolean,
  ) {}

  /** One attempt of `client` (resolving `service`) ended with `code` on `endpoint`, or on none. */
  outcome(client: ClientView, service: string, endpoint: EndpointReading | undefined, code: number): void {
    if (endpoint === undefined) {
      this.pickFailed(service, code);
      return;
    }
    let cells = this.cells.get(endpoint);
    if (cells === undefined) {
      // A call that outlived its endpoint would bring back a series already removed, for good.
      if (endpoint.state === 'shutdown' || !this.attached(client)) return;
      cells = this.open(service, endpoint);
    }
    if (code === Status.OK) cells.ok++;
    else if (isEndpointFailure(code)) cells.endpointError++;
    else cells.otherError++;
  }

  /** The endpoint left its client: its series go, unless another client still counts that address. */
  close(endpoint: EndpointReading): void {
    const cells = this.cells.get(endpoint);
    if (cells === undefined) return;
    this.cells.delete(endpoint);
    const refs = (this.refs.get(cells.key) ?? 1) - 1;
    if (refs > 0) {
      // The other client's series keep this one's last counts.
      this.refs.set(cells.key, refs);
      this.move(cells);
      return;
    }
    this.refs.delete(cells.key);
    for (const labels of Object.values(cells.labels)) this.calls.remove(labels);
  }

  /**
   * Moves the counts into the counter. At scrape every class is brought up (zeros too, so all
   * three are visible from the first scrape); between scrapes only what changed.
   */
  flushCalls(all = true): void {
    for (const cells of this.cells.values()) {
      if (all || !cells.shown || cells.ok + cells.endpointError + cells.otherError > 0) this.move(cells);
    }
  }

  flushPickFailures(counter: Counter<string>): void {
    for (const entry of this.failedPicks.values()) {
      if (entry.count === 0) continue;
      counter.inc(entry.labels, entry.count);
      entry.count = 0;
    }
  }

  private pickFailed(service: string, code: number): void {
    const key = `${service}\u0000${code}`;
    let entry = this.failedPicks.get(key);
    if (entry === undefined) this.failedPicks.set(key, (entry = { labels: { lb_service: service, grpc_code: grpcCodeLabel(code) }, count: 0 }));
    entry.count++;
  }

  private open(service: string, endpoint: EndpointReading): EndpointCells {
    const { address } = endpoint;
    const key = `${service}\u0000${address}`;
    const labelsOf = (code_class: CodeClass): Labels => ({ lb_service: service, address, code_class });
    const cells = new EndpointCells(key, { ok: labelsOf('ok'), endpoint_error: labelsOf('endpoint_error'), other_error: labelsOf('other_error') });
    this.cells.set(endpoint, cells);
    this.refs.set(key, (this.refs.get(key) ?? 0) + 1);
    return cells;
  }

  private move(cells: EndpointCells): void {
    this.calls.inc(cells.labels.ok, cells.ok);
    this.calls.inc(cells.labels.endpoint_error, cells.endpointError);
    this.calls.inc(cells.labels.other_error, cells.otherError);
    cells.ok = cells.endpointError = cells.otherError = 0;
    cells.shown = true;
  }
}
