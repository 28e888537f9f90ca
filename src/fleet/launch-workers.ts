import type { SNSClient } from '@aws-sdk/client-sns';
import { listFleetWorkers } from '../aws/ec2-workers';
import { publishNotification } from '../aws/notify';
import { fleetSpec } from '../config';
import type { LaunchTrigger } from '../events/launch';
import { TAG } from '../model/tags';
import type { Worker } from '../model/worker';
import { planCapacity } from './capacity';
import { type LaunchDependencies, type LaunchOutcome, launchInstances } from './launch-instances';

export interface LaunchWorkersDependencies extends LaunchDependencies {
  readonly sns: SNSClient;
}

export type FleetLaunchStatus = 'launched' | 'short' | 'at-capacity' | 'already-handled';

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

/** Workers that count as capacity: pending or running, and not on their way out after an interruption. */
export function countsAsCapacity(worker: Worker): boolean {
  return (worker.state === 'pending' || worker.state === 'running') && !(TAG.interruptedAt in worker.tags);
}

function statusOf(outcome: LaunchOutcome): FleetLaunchStatus {
  return outcome.shortfall > 0 ? 'short' : 'launched';
}

async function launchFleet(
  deps: LaunchWorkersDependencies,
  fleet: string,
  trigger: LaunchTrigger,
): Promise<FleetLaunchResult> {
  const { ec2, sns, logger, config } = deps;
  const spec = fleetSpec(config, fleet);
  const workers = await listFleetWorkers(ec2, { managedBy: config.managedBy, fleet });
  const active = workers.filter(countsAsCapacity).length;
  const plan = planCapacity(spec, active, trigger);
  const base = { fleet, active, desired: plan.desired, capped: plan.capped };
  const nothing = { launched: [], onDemandFallback: 0, shortfall: 0, capacityErrors: [] };

  // EC2 dedupes a redelivered trigger by ClientToken; this guard proves it here too, and in the emulator.
  const earlier = workers.filter((worker) => worker.tags[TAG.triggerId] === trigger.id);
  if (earlier.length > 0) {
    logger.warn('trigger already handled, launching nothing', {
      fleet,
      triggerId: trigger.id,
      instanceIds: earlier.map((worker) => worker.instanceId),
    });
    return { ...base, status: 'already-handled', ...nothing };
  }
  logger.info('launch planned', { fleet, triggerId: trigger.id, trigger: trigger.kind, active, ...plan });
  if (plan.toLaunch === 0) return { ...base, status: 'at-capacity', ...nothing };

  const outcome = await launchInstances(deps, {
    fleet,
    spec,
    count: plan.toLaunch,
    reason: trigger.kind,
    triggerId: trigger.id,
  });
  const result: FleetLaunchResult = {
    ...base,
    status: statusOf(outcome),
    launched: outcome.launched.map(({ instanceId, instanceType, subnetId, market }) => ({
      instanceId,
      instanceType,
      subnetId,
      market,
    })),
    onDemandFallback: outcome.onDemandFallback,
    shortfall: outcome.shortfall,
    capacityErrors: outcome.capacityErrors.map(({ pool, code }) => ({ ...pool, code })),
  };
  const anyLaunched = outcome.launched.length > 0;
  await publishNotification(sns, config.topicArn, {
    kind: anyLaunched ? 'launch' : 'launch-failed',
    fleet,
    subject: anyLaunched
      ? `worker-fleet ${fleet}: launched ${outcome.launched.length} of ${plan.toLaunch} workers`
      : `worker-fleet ${fleet}: no capacity for ${plan.toLaunch} workers`,
    details: { trigger: { kind: trigger.kind, id: trigger.id }, requested: plan.toLaunch, ...result },
  });
  logger.info('launch finished', {
    fleet,
    triggerId: trigger.id,
    status: result.status,
    launched: outcome.launched.length,
    onDemandFallback: outcome.onDemandFallback,
    shortfall: outcome.shortfall,
  });
  return result;
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
