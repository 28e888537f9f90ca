import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import { endedAmong, listFleetWorkers } from '../aws/ec2-workers';
import { listHeartbeats } from '../aws/heartbeats';
import { type Config, fleetSpec } from '../config';
import type { FleetFacts, FleetState, RetirementFact, RetirementReason } from '../model/fleet-state';
import { TAG } from '../model/tags';
import { replacedInstance } from '../model/worker';
import { dueRetirements, isDrifted } from './due-retirements';
import { poolMemoryOf, poolRisks, RISKY_SCORE } from './pool-memory';
import { judgeFleet } from './reap-idle-workers';
import { unlistedLaunches } from './reconcile-plan';
import { retirementStage } from './retirement-plan';

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
  /** Its planned retirement, when one is recorded: why, where it stands, and when its drain grace ends. */
  readonly retirement?: {
    readonly reason: RetirementReason;
    readonly stage: ReturnType<typeof retirementStage>;
    readonly requestedAt: string;
    readonly deadline?: string;
  };
  /** The earliest open change AWS scheduled for it (a Health event's or EC2's instance event). */
  readonly scheduledChange?: { readonly code: string; readonly startsAt: string; readonly eventId: string };
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
    const scheduled = new Map(
      dueRetirements(fleet, spec.ami, listed, facts).flatMap((due) =>
        due.reason === 'scheduled-change' ? [[due.instanceId, due.detail] as const] : [],
      ),
    );
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
          retirement: retirementShown(facts.retirements?.[worker.instanceId], facts.replacements),
          scheduledChange: changeShown(scheduled.get(worker.instanceId)),
        };
      }),
      riskyPools: risks,
    });
  }
  return statuses;
}

/** A worker's retirement fact as `status` shows it. */
function retirementShown(
  fact: RetirementFact | undefined,
  replacements: FleetFacts['replacements'],
): WorkerStatus['retirement'] {
  if (fact === undefined) return undefined;
  return {
    reason: fact.reason,
    stage: retirementStage(fact, replacements),
    requestedAt: fact.requestedAt,
    ...(fact.deadline === undefined ? {} : { deadline: fact.deadline }),
  };
}

/** A due scheduled change's detail as `status` shows it. */
function changeShown(detail: Readonly<Record<string, string>> | undefined): WorkerStatus['scheduledChange'] {
  if (detail === undefined) return undefined;
  return { code: detail.code ?? '', startsAt: detail.startsAt ?? '', eventId: detail.eventId ?? '' };
}
