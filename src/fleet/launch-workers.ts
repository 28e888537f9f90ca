import { fleetSpec } from '../config';
import type { LaunchTrigger } from '../events/launch';
import type { SizeRequest } from '../model/fleet-state';
import { type ReconcileDependencies, type ReconcileOutcome, reconcileFleet } from './reconcile-fleet';

export type LaunchWorkersDependencies = ReconcileDependencies;

/** `handed-off`: another invocation was reconciling the fleet and was asked to run again: it launches. */
export type FleetLaunchStatus = 'launched' | 'short' | 'at-capacity' | 'already-handled' | 'handed-off';

/** What one launch run did for one fleet. */
export interface FleetLaunchResult {
  readonly fleet: string;
  readonly status: FleetLaunchStatus;
  readonly active: number;
  readonly desired: number;
  readonly capped: boolean;
  readonly launched: readonly {
    instanceId: string;
    instanceType: string;
    subnetId: string;
    market: string;
  }[];
  readonly onDemandFallback: number;
  readonly shortfall: number;
  readonly capacityErrors: readonly {
    instanceType: string;
    subnetId: string;
    market: string;
    code: string;
  }[];
}

/**
 * One fleet's launch: the trigger's request becomes a fact of the fleet (once per request id, remembered for 14
 * days, so a redelivery asks nothing more), then the fleet is reconciled, here or by the holder of its lease.
 */
async function launchFleet(
  deps: LaunchWorkersDependencies,
  fleet: string,
  trigger: LaunchTrigger,
): Promise<FleetLaunchResult> {
  const { logger, config, now } = deps;
  const spec = fleetSpec(config, fleet);
  if (trigger.kind === 'reconcile') {
    return resultOf(fleet, false, await reconcileFleet(deps, fleet, spec));
  }
  const request: SizeRequest = {
    id: trigger.id,
    kind: trigger.kind,
    ...(trigger.count === undefined
      ? { target: trigger.target ?? spec.targetCapacity }
      : { count: trigger.count }),
    at: now().toISOString(),
    ...(trigger.time === undefined ? {} : { eventTime: trigger.time.toISOString() }),
  };
  const seen = !(await deps.state.addRequest(fleet, request));
  logger.info(seen ? 'launch request already known' : 'launch requested', {
    fleet,
    triggerId: trigger.id,
    trigger: trigger.kind,
    ...request,
  });
  return resultOf(fleet, seen, await reconcileFleet(deps, fleet, spec));
}

/** What a launch trigger's reconciliation did for one fleet, told as the launcher tells it. */
function resultOf(fleet: string, seen: boolean, outcome: ReconcileOutcome): FleetLaunchResult {
  const launched = outcome.launched.map(({ instanceId, instanceType, subnetId, market }) => ({
    instanceId,
    instanceType,
    subnetId,
    market,
  }));
  const status: FleetLaunchStatus =
    outcome.status === 'handed-off'
      ? 'handed-off'
      : seen && launched.length === 0
        ? 'already-handled'
        : outcome.requested === 0
          ? 'at-capacity'
          : outcome.shortfall > 0
            ? 'short'
            : 'launched';
  return {
    fleet,
    status,
    active: outcome.active,
    desired: outcome.desired ?? outcome.active,
    capped: outcome.capped,
    launched,
    onDemandFallback: outcome.onDemandFallback,
    shortfall: outcome.shortfall,
    capacityErrors: outcome.capacityErrors.map(({ pool, code }) => ({ ...pool, code })),
  };
}

/** Raised after every fleet was tried, naming each fleet whose launch failed and why. */
export class FleetLaunchError extends Error {
  override name = 'FleetLaunchError';

  constructor(
    readonly failures: readonly { fleet: string; error: unknown }[],
    readonly results: readonly FleetLaunchResult[],
  ) {
    super(
      `launch failed for ${failures
        .map(
          ({ fleet, error }) =>
            `fleet ${fleet} (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`,
        )
        .join(', ')}`,
    );
  }
}

/**
 * Brings the trigger's fleet (or, for a trigger naming none, every fleet) to its target capacity, or launches the
 * trigger's count. Unknown fleets are rejected before any AWS call. Fleets are launched concurrently; one fleet's
 * failure does not stop the others, and is reported precisely once all are done.
 */
export async function launchWorkers(
  deps: LaunchWorkersDependencies,
  trigger: LaunchTrigger,
): Promise<FleetLaunchResult[]> {
  const fleets = trigger.fleet === undefined ? Object.keys(deps.config.fleets) : [trigger.fleet];
  for (const fleet of fleets) fleetSpec(deps.config, fleet);

  const settled = await Promise.allSettled(fleets.map((fleet) => launchFleet(deps, fleet, trigger)));
  const results = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failures = settled.flatMap((outcome, index) =>
    outcome.status === 'rejected' ? [{ fleet: fleets[index] ?? '', error: outcome.reason as unknown }] : [],
  );
  if (failures.length > 0) {
    for (const { fleet, error } of failures) deps.logger.error('launch failed', { fleet, error });
    throw new FleetLaunchError(failures, results);
  }
  return results;
}
