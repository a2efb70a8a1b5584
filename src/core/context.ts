import { Metadata, status as Status, type CallOptions, type MethodDefinition, type StatusObject } from '@grpc/grpc-js';
import type { PickInfo } from './endpoint';
import type { ClientView, EndpointView } from './view';
import type { StreamSurface, WireCall } from './wire';

export type CallType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

/**
 * One call as the middleware chain sees it. Call-level fields are set when the call starts;
 * the outcome fields (status, endpoint, response, …) describe the latest attempt. Hedging runs
 * attempts side by side on forks (see fork()), which share the call-level state.
 */
export class CallContext implements PickInfo {
  /** The client making the call: its endpoints, for middleware that acts on them (breakers, metrics). */
  readonly client: ClientView;
  /** The service name the resolver resolves, e.g. "user-service". */
  readonly service: string;
  /** The target as configured, for messages (never holds credentials). */
  readonly target: string;
  /** Full method path, '/pkg.Service/Method'. */
  readonly method: string;
  readonly type: CallType;
  /** The method's path and (de)serializers, from the stub's service definition. */
  readonly definition: MethodDefinition<unknown, unknown>;
  /** The request message of unary and server-streaming calls; undefined for client-sent streams. */
  readonly request: unknown;
  /** Outgoing metadata; middleware may add to it before the attempt starts. */
  metadata: Metadata;
  /** Absolute deadline of the whole call in epoch milliseconds; Infinity for none. */
  deadline: number;
  /** Consistent-hash key; balancers that hash read it. */
  hashKey: string | undefined;
  /** The grpc-js call options given by the caller (interceptors, credentials, …), passed to every attempt. */
  readonly callOptions: CallOptions;
  /** When the call started (epoch ms). */
  readonly startedAt: number;

  /** 1 for the first attempt; retry and hedging number the rest. */
  attempt = 1;
  /** Deadline of this attempt alone (epoch ms), tighter than `deadline` when retry sets one; Infinity for none. */
  attemptDeadline = Infinity;
  // The latest attempt's outcome, every per-attempt field in this block. An attempt starts from
  // resetOutcome(), its one reset, made by whoever sends the call's next attempt (beginAttempt()
  // in retry, waitForReady); a call's first attempt starts from a new context. The transport
  // fills in where the attempt went, the attempt's end how it ended; hedging copies a winning
  // fork's outcome with adopt(). (Declared here rather than in a base class: V8 builds instances
  // of a derived class more slowly, and a context is built for every call.)

  /** The endpoint the latest attempt was sent to; undefined when none could be picked. */
  endpoint: EndpointView | undefined = undefined;
  /** Outcome of the latest attempt; undefined until it has finished. */
  status: StatusObject | undefined = undefined;
  /** The response message of a successful unary or client-streaming call. */
  response: unknown = undefined;
  /** Response headers of the latest attempt, when the server sent any. */
  responseMetadata: Metadata | undefined = undefined;
  /** When the latest attempt started and finished (epoch ms); 0 before. */
  attemptStartedAt = 0;
  attemptEndedAt = 0;

  /** Messages of a streaming call, counted as they pass. */
  messagesSent = 0;
  messagesReceived = 0;

  /**
   * The grpc-js call of the latest attempt that went out on a channel (kept after it ends, for
   * getPeer and getAuthContext); undefined while none has.
   * @internal
   */
  wire: WireCall | undefined = undefined;
  /**
   * The same call while its attempt is in flight, which abort() cancels (one field rather than
   * an abort hook per attempt); the attempt sets it when sent and clears it when ended.
   * @internal
   */
  inFlight: WireCall | undefined = undefined;
  /**
   * The stream object the caller holds, for the transport to bind to the attempt.
   * @internal
   */
  stream: StreamSurface | undefined = undefined;

  /** The first address tried, kept without a Set: most calls never make a second attempt. */
  private firstTried: string | undefined = undefined;
  private triedSet: Set<string> | undefined;
  private controller: AbortController | undefined = undefined;
  private abortedFlag = false;
  private abortReason: unknown = undefined;
  private abortHooks: (() => void)[] | undefined = undefined;
  private valueMap: Map<unknown, unknown> | undefined;

  constructor(init: {
    client: ClientView;
    service: string;
    target: string;
    method: string;
    type: CallType;
    definition: MethodDefinition<unknown, unknown>;
    request?: unknown;
    metadata: Metadata;
    deadline: number;
    hashKey?: string;
    callOptions: CallOptions;
    startedAt: number;
    tried?: Set<string>;
    values?: Map<unknown, unknown>;
  }) {
    this.client = init.client;
    this.service = init.service;
    this.target = init.target;
    this.method = init.method;
    this.type = init.type;
    this.definition = init.definition;
    this.request = init.request;
    this.metadata = init.metadata;
    this.deadline = init.deadline;
    this.hashKey = init.hashKey;
    this.callOptions = init.callOptions;
    this.startedAt = init.startedAt;
    this.triedSet = init.tried;
    this.valueMap = init.values;
  }

  /** Addresses this call has tried, shared by all attempts: balancers avoid them while others remain. */
  get tried(): Set<string> {
    if (this.triedSet === undefined) {
      this.triedSet = new Set();
      if (this.firstTried !== undefined) this.triedSet.add(this.firstTried);
    }
    return this.triedSet;
  }

  /**
   * Records an attempt's address. The set is made only once a call tries a second address (or
   * a middleware asks for it).
   * @internal
   */
  noteTried(address: string): void {
    if (this.triedSet !== undefined) this.triedSet.add(address);
    else if (this.firstTried === undefined) this.firstTried = address;
    else if (this.firstTried !== address) this.tried.add(address);
  }

  /** Free-form state for middleware, shared by all attempts of the call. */
  get values(): Map<unknown, unknown> {
    return (this.valueMap ??= new Map());
  }

  /** Addresses the balancer should avoid: the ones this call has tried (undefined before any). */
  get exclude(): ReadonlySet<string> | undefined {
    if (this.triedSet !== undefined) return this.triedSet;
    return this.firstTried === undefined ? undefined : this.tried;
  }

  /** True once the call (or, on a fork, its attempt) has been cancelled. */
  get aborted(): boolean {
    return this.abortedFlag;
  }

  /** Aborted when the caller cancels the call (or, on a fork, when its attempt is abandoned). */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      if (this.abortedFlag) controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Cancels this context's attempt(s): the caller's cancel, a lost hedge, a breaker decision. */
  abort(reason?: unknown): void {
    if (this.abortedFlag) return;
    this.abortedFlag = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.inFlight?.cancel();
    const hooks = this.abortHooks;
    this.abortHooks = undefined;
    if (hooks) for (const hook of hooks) hook();
  }

  /**
   * Runs `hook` when the context is aborted (at once if it already is). Returns a function that
   * removes it. Cheaper than listening on `signal`, which the hot path avoids creating.
   */
  onAbort(hook: () => void): () => void {
    if (this.abortedFlag) {
      hook();
      return noop;
    }
    (this.abortHooks ??= []).push(hook);
    return () => {
      const hooks = this.abortHooks;
      if (hooks === undefined) return;
      const i = hooks.indexOf(hook);
      if (i >= 0) hooks.splice(i, 1);
    };
  }

  /** The earlier of the call's and the attempt's deadlines. */
  get effectiveDeadline(): number {
    return this.attemptDeadline < this.deadline ? this.attemptDeadline : this.deadline;
  }

  /**
   * A context for an attempt that runs beside others (hedging): same call-level state and tried
   * set, its own outcome and its own signal, aborted with the parent's and by abort().
   */
  fork(): CallContext {
    const child = new CallContext({
      client: this.client,
      service: this.service,
      target: this.target,
      method: this.method,
      type: this.type,
      definition: this.definition,
      request: this.request,
      metadata: this.metadata.clone(),
      deadline: this.deadline,
      hashKey: this.hashKey,
      callOptions: this.callOptions,
      startedAt: this.startedAt,
      tried: this.tried,
      values: this.values,
    });
    // The fork is cancelled with its parent; its own abort() leaves the parent alone.
    const remove = this.onAbort(() => child.abort(this.abortReason));
    child.onAbort(remove);
    child.attempt = this.attempt;
    child.attemptDeadline = this.attemptDeadline;
    return child;
  }

  /**
   * Starts attempt number `attempt` of this call: the one reset of the outcome between attempts,
   * made by the layer that sends the call again (retry), so that a layer below that answers
   * without sending leaves no earlier attempt's outcome behind.
   */
  beginAttempt(attempt: number): void {
    this.attempt = attempt;
    this.resetOutcome();
  }

  /** Clears the outcome: another attempt is about to be sent. */
  resetOutcome(): void {
    this.endpoint = undefined;
    this.status = undefined;
    this.response = undefined;
    this.responseMetadata = undefined;
    this.attemptStartedAt = 0;
    this.attemptEndedAt = 0;
  }

  private adoptOutcome(from: CallContext): void {
    this.endpoint = from.endpoint;
    this.status = from.status;
    this.response = from.response;
    this.responseMetadata = from.responseMetadata;
    this.attemptStartedAt = from.attemptStartedAt;
    this.attemptEndedAt = from.attemptEndedAt;
  }

  /** Ends the attempt without sending it (a middleware refusing the call): sets the status. */
  fail(code: Status, details: string, metadata: Metadata = new Metadata()): void {
    this.status = { code, details, metadata };
  }

  /** True when the latest attempt finished with OK. */
  get ok(): boolean {
    return this.status !== undefined && this.status.code === Status.OK;
  }

  /** Takes the outcome of `attempt` (a fork) as this call's outcome. */
  adopt(attempt: CallContext): void {
    this.attempt = attempt.attempt;
    this.adoptOutcome(attempt);
    if (attempt.wire) this.wire = attempt.wire;
  }
}

function noop(): void {}
