export type { Balancer, Endpoint, PickInfo, Picker } from './types';
export { weightedRoundRobin, type WeightedRoundRobinOptions } from './weighted-round-robin';
