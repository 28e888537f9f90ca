import type { FleetSpec } from '../model/fleet-spec';

export interface CapacityPlan {
  /** Workers to launch now. */
  readonly toLaunch: number;
  /** The size the fleet should have after this run. */
  readonly desired: number;
  /** True when the request asked for more than the fleet's maxCapacity allows. */
  readonly capped: boolean;
}

/**
 * How many workers a run launches. `active` counts the fleet's pending and running workers that are not being
 * interrupted; without `count` or `target` the fleet is brought to its targetCapacity, so a run that finds the fleet
 * full launches nothing. Nothing ever grows the fleet beyond maxCapacity.
 */
export function planCapacity(
  spec: Pick<FleetSpec, 'targetCapacity' | 'maxCapacity'>,
  active: number,
  request: { count?: number; target?: number },
): CapacityPlan {
  const wanted =
    request.count !== undefined ? active + request.count : (request.target ?? spec.targetCapacity);
  const asked = Math.max(0, wanted - active);
  const toLaunch = Math.max(0, Math.min(wanted, spec.maxCapacity) - active);
  return { toLaunch, desired: active + toLaunch, capped: toLaunch < asked };
}
