// The call-level counts of each method: plain numbers on the call path, moved into the counters
// when they flush. A prom-client inc() builds and looks up its label key on every call, which
// would cost more than the rest of the middleware together.

import type { CallContext } from '../../core/context';
import type { Counter, Histogram } from '../prom-client-lazy';
import { CODE_NAMES, methodLabels, type Labels } from './names';

/** What the handling-time histogram gives a method: prom-client's child for its label set. */
type Observer = { observe(value: number): void };

/** Counts of one method waiting for the next flush. */
export class MethodCells {
  started = 0;
  readonly handled: number[] = new Array<number>(CODE_NAMES.length).fill(0);
  sent = 0;
  received = 0;
  firstAttempts = 0;
  laterAttempts = 0;

  constructor(
    readonly labels: Readonly<Labels>,
    /** Observed as each call ends: a histogram has no way to take counts in bulk. */
    readonly handling: Observer,
  ) {}
}

/** The cells of every method called, by path; each method's label set is made once. */
export class MethodTable {
  private readonly byPath = new Map<string, MethodCells>();

  constructor(
    private readonly handling: Histogram<string>,
    /** Every label set made here is added. */
    private readonly labelSets: Set<Labels>,
  ) {}

  of(ctx: CallContext): MethodCells {
    let cells = this.byPath.get(ctx.method);
    if (cells === undefined) {
      const labels = methodLabels(ctx.type, ctx.method);
      cells = new MethodCells(labels, this.handling.labels(labels));
      this.labelSets.add(labels);
      this.byPath.set(ctx.method, cells);
    }
    return cells;
  }

  flushStarted(counter: Counter<string>): void {
    for (const cells of this.byPath.values()) {
      if (cells.started === 0) continue;
      counter.inc(cells.labels, cells.started);
      cells.started = 0;
    }
  }

  flushHandled(counter: Counter<string>): void {
    for (const cells of this.byPath.values()) {
      const handled = cells.handled;
      for (let code = 0; code < handled.length; code++) {
        if (handled[code] === 0) continue;
        counter.inc({ ...cells.labels, grpc_code: CODE_NAMES[code] }, handled[code]);
        handled[code] = 0;
      }
    }
  }

  flushMessages(counter: Counter<string>, field: 'sent' | 'received'): void {
    for (const cells of this.byPath.values()) {
      if (cells[field] === 0) continue;
      counter.inc(cells.labels, cells[field]);
      cells[field] = 0;
    }
  }

  flushAttempts(counter: Counter<string>): void {
    for (const cells of this.byPath.values()) {
      if (cells.firstAttempts > 0) counter.inc({ ...cells.labels, attempt: 'first' }, cells.firstAttempts);
      if (cells.laterAttempts > 0) counter.inc({ ...cells.labels, attempt: 'retry_or_hedge' }, cells.laterAttempts);
      cells.firstAttempts = 0;
      cells.laterAttempts = 0;
    }
  }
}
