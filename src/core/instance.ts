/** One instance of a service as a registry reports it. */
export interface Instance {
  /** "host:port"; IPv6 as "[::1]:50051". */
  address: string;
  /** Relative share of calls; 1 when missing. Instances with a weight that is not a finite number > 0 are skipped and reported. */
  weight?: number;
  tags?: Record<string, string>;
  /** The registry's own id for the instance, when it has one. */
  id?: string;
}
