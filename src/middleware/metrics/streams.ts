// Messages of streams in flight, counted as they pass and not only when their stream ends: a
// long-lived stream shows its traffic at every scrape.

import type { CallContext } from '../../core/context';
import type { MethodCells } from './call-cells';

/** A stream in flight and how many of its messages are already in its method's cells. */
export interface StreamRecord {
  readonly ctx: CallContext;
  readonly cells: MethodCells;
  sent: number;
  received: number;
}

export class StreamTracker {
  private readonly open = new Set<StreamRecord>();

  track(ctx: CallContext, cells: MethodCells): StreamRecord {
    const record: StreamRecord = { ctx, cells, sent: 0, received: 0 };
    this.open.add(record);
    return record;
  }

  /** The stream ended: its last messages are taken, and it is followed no more. */
  untrack(record: StreamRecord): void {
    this.open.delete(record);
    take(record);
  }

  /** Moves the messages each open stream passed since the last time into its method's cells. */
  takeAll(): void {
    for (const record of this.open) take(record);
  }
}

function take(record: StreamRecord): void {
  const { ctx, cells } = record;
  cells.sent += ctx.messagesSent - record.sent;
  cells.received += ctx.messagesReceived - record.received;
  record.sent = ctx.messagesSent;
  record.received = ctx.messagesReceived;
}
