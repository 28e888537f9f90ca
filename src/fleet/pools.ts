import type { FleetSpec } from '../model/fleet-spec';
import { type Pool, placementKey } from '../model/pool';
import type { Market } from '../model/worker';

export interface Chunk {
  readonly subnetId: string;
  readonly count: number;
}

/** Splits a launch evenly over the fleet's subnets (first subnets take the remainder), so a fleet spans AZs. */
export function spreadAcrossSubnets(count: number, subnets: readonly string[]): Chunk[] {
  const base = Math.floor(count / subnets.length);
  const extra = count % subnets.length;
  return subnets
    .map((subnetId, index) => ({ subnetId, count: base + (index < extra ? 1 : 0) }))
    .filter((chunk) => chunk.count > 0);
}

function marketsOf(market: FleetSpec['market']): Market[] {
  switch (market) {
    case 'spot':
      return ['spot'];
    case 'on-demand':
      return ['on-demand'];
    case 'spot-with-on-demand-fallback':
      return ['spot', 'on-demand'];
  }
}

/**
 * The pools a chunk tries, in order: every spot pool before any on-demand one; within a market the chunk's own
 * subnet first (instance types in the fleet's order), then the other subnets. Spot pools in `avoid` (placement keys,
 * such as the pool a worker was just interrupted in) are left out where on-demand can stand in for them, and tried
 * last on a spot-only fleet, where leaving them out could leave nothing to try. On-demand is never avoided.
 */
export function candidatePools(
  spec: Pick<FleetSpec, 'instanceTypes' | 'subnets' | 'market'>,
  preferredSubnet: string,
  avoid: ReadonlySet<string> = new Set(),
): Pool[] {
  const subnets = [preferredSubnet, ...spec.subnets.filter((subnet) => subnet !== preferredSubnet)];
  const pools = marketsOf(spec.market).flatMap((market) =>
    subnets.flatMap((subnetId) =>
      spec.instanceTypes.map((instanceType) => ({ instanceType, subnetId, market })),
    ),
  );
  const avoided = (pool: Pool) => pool.market === 'spot' && avoid.has(placementKey(pool));
  const kept = pools.filter((pool) => !avoided(pool));
  return spec.market === 'spot' ? [...kept, ...pools.filter(avoided)] : kept;
}
