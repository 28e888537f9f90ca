import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import { endedAmong, listFleetWorkers } from '../aws/ec2-workers';
import { listHeartbeats } from '../aws/heartbeats';
import { type Config, fleetSpec } from '../config';
import { isDrifted } from '../fleet/due-retirements';
import { poolMemoryOf, poolRisks, RISKY_SCORE } from '../fleet/pool-memory';
import { judgeFleet } from '../fleet/reap-idle-workers';
import { unlistedLaunches } from '../fleet/reconcile-plan';
import type { FleetState } from '../model/fleet-state';
import { TAG } from '../model/tags';
import { replacedInstance } from '../model/worker';

export interface StatusDependencies {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly state: FleetState;
  readonly cloudwatch: CloudWatchClient;
  readonly config: Config;
}

export interface WorkerStatus {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly market: string;
  readonly state: string;
  readonly ageMinutes?: number;
  /** Minutes since the last heartbeat, and what it said. */
  readonly heartbeatMinutesAgo?: number;
  readonly heartbeatStatus?: string;
  readonly verdict: string;
  readonly explanation: string;
  /** Set once the reaper marked the worker idle. */
  readonly idleSince?: string;
  readonly interruption?: string;
  readonly replacedBy?: string;
  readonly replaces?: string;
  /** The AMI it runs, and whether that is another than the one its fleet's reconciliation last resolved. */
  readonly imageId?: string;
  readonly drifted: boolean;
}

export interface FleetStatus {
  readonly fleet: string;
  /** What the fleets file asks for (`targetCapacity`). */
  readonly targetCapacity: number;
  /** The size the reconciliation keeps (the state's size item); undefined until a pass recorded one. */
  readonly desired?: number;
  /** Size requests the next reconciliation pass applies (a launch's, the reaper's shrink): `desired` before them. */
  readonly pendingRequests: number;
  /** The reaper's floor (`idle.minWorkers`): it never lowers the fleet below it. */
  readonly floor: number;
  readonly maxCapacity: number;
  /** Running workers: the rows of `workers`. */
  readonly running: number;
  /** Launched and answered, not listed by EC2 yet (in-flight capacity, as the reconciliation counts it). */
  readonly inFlight: readonly string[];
  readonly workers: readonly WorkerStatus[];
  /** Spot pools (instance type × subnet) worker-fleet avoids, and why. */
  readonly riskyPools: readonly { readonly pool: string; readonly score: number; readonly reason: string }[];
}

const minutesSince = (then: Date | undefined, now: Date) =>
  then === undefined ? undefined : Math.floor((now.getTime() - then.getTime()) / 60_000);

/**
 * What each fleet is doing: its sizes (target, desired, floor, max), its running workers with the reaper's verdict on
 * each, what is in flight, and its risky pools. In flight as the reconciliation counts it: answered launches whose
 * instances EC2 does not list yet and has not said have ended. Reads only.
 */
export async function fleetStatus(deps: StatusDependencies, fleets: readonly string[], now: Date) {
  const { config } = deps;
  const specs = fleets.map((fleet) => [fleet, fleetSpec(config, fleet)] as const);
  const [heartbeats, events] = await Promise.all([
    listHeartbeats(deps.s3, config.fleetBucket, config.workerRoleId),
    deps.state.poolEvents(now),
  ]);
  const risks = [...poolRisks(poolMemoryOf(events), now)]
    .filter(([, risk]) => risk.score >= RISKY_SCORE)
    .map(([pool, risk]) => ({ pool, ...risk }));
  const statuses: FleetStatus[] = [];
  for (const [fleet, spec] of specs) {
    const [judged, facts, listed] = await Promise.all([
      judgeFleet(deps, fleet, heartbeats, now),
      deps.state.readFacts(fleet, now),
      listFleetWorkers(deps.ec2, {
        managedBy: config.managedBy,
        instanceProfile: config.instanceProfile,
        fleet,
      }),
    ]);
    const unlisted = unlistedLaunches(listed, facts, now);
    const ended = await endedAmong(deps.ec2, unlisted);
    const replacements = new Map(
      judged.flatMap(({ worker }) => {
        const replaces = replacedInstance(worker);
        return replaces === undefined ? [] : [[replaces, worker.instanceId] as const];
      }),
    );
    statuses.push({
      fleet,
      targetCapacity: spec.targetCapacity,
      desired: facts.size?.desired,
      pendingRequests: facts.requests.length,
      floor: spec.idle.minWorkers,
      maxCapacity: spec.maxCapacity,
      running: judged.length,
      inFlight: unlisted.filter((instanceId) => !ended.has(instanceId)),
      workers: judged.map(({ worker, verdict }) => {
        const heartbeat = heartbeats.get(worker.instanceId);
        const replacedBy = replacements.get(worker.instanceId);
        return {
          instanceId: worker.instanceId,
          instanceType: worker.instanceType,
          availabilityZone: worker.availabilityZone,
          market: worker.market,
          state: worker.state,
          ageMinutes: minutesSince(worker.launchTime, now),
          heartbeatMinutesAgo: minutesSince(heartbeat?.at, now),
          heartbeatStatus: heartbeat?.unreadable === undefined ? heartbeat?.status : 'unreadable',
          verdict: verdict.kind,
          explanation: verdict.explanation,
          idleSince: worker.tags[TAG.idleSince],
          interruption: worker.tags[TAG.interruption],
          imageId: worker.imageId,
          drifted: isDrifted(worker, facts.image, spec.ami),
          replacedBy,
          replaces: replacedInstance(worker),
        };
      }),
      riskyPools: risks,
    });
  }
  return statuses;
}
