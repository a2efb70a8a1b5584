export type { Balancer, Endpoint, PickInfo, Picker } from './types';
export { weightedRoundRobin, type WeightedRoundRobinOptions } from './weighted-round-robin';
export { weightedRandom, type WeightedRandomOptions } from './weighted-random';
export { consistentHash, type ConsistentHashOptions } from './consistent-hash';
export { leastConnection, type LeastConnectionOptions } from './least-connection';
export { peakEwma, type PeakEwmaOptions } from './peak-ewma';
export { pickFirst, type PickFirstOptions } from './pick-first';
