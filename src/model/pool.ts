import type { Market } from './worker';

/** A capacity pool: one instance type in one subnet (so one AZ), bought on one market. */
export interface Pool {
  readonly instanceType: string;
  readonly subnetId: string;
  readonly market: Market;
}

/** Identifies a spot capacity pool regardless of market: instance type × subnet. */
export const placementKey = (pool: Pick<Pool, 'instanceType' | 'subnetId'>) =>
  `${pool.instanceType}@${pool.subnetId}`;

/** What a pool did to us. */
export type PoolEventKind = 'interruption' | 'rebalance' | 'capacity-error';

export interface PoolEvent {
  readonly kind: PoolEventKind;
  /** ISO time. */
  readonly at: string;
}

/** Per spot placement (instance type × subnet), the recent events; kept in the state bucket. */
export interface PoolMemory {
  readonly pools: Readonly<Record<string, readonly PoolEvent[]>>;
}
