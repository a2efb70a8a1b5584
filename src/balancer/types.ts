import type { Endpoint, PickInfo } from '../core/endpoint';

export type { Endpoint, PickInfo };

/** An immutable snapshot of a balancer's view, rebuilt when the endpoints or their availability change. */
export interface Picker<E extends Endpoint = Endpoint> {
  /** The endpoint for this call, or undefined when there is nothing to pick. */
  pick(info: PickInfo): E | undefined;
}

/** A load-balancing policy: turns the available endpoints into a picker. */
export interface Balancer {
  readonly name: string;
  /**
   * True for a balancer whose choice should not change while an endpoint connects (consistent
   * hashing): its picker is built over every endpoint not known to be failing, connecting ones
   * included, and a call whose choice is still connecting waits for it. Default false: pickers
   * see the ready endpoints only.
   */
  readonly waitsForConnecting?: boolean;
  build<E extends Endpoint>(endpoints: readonly E[]): Picker<E>;
}
