import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import { listHeartbeats } from '../aws/heartbeats';
import { type Config, fleetSpec } from '../config';
import { poolMemoryOf, poolRisks, RISKY_SCORE } from '../fleet/pool-memory';
import { judgeFleet } from '../fleet/reap-idle-workers';
import type { FleetState } from '../model/fleet-state';
import { TAG } from '../model/tags';

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
}

export interface FleetStatus {
  readonly fleet: string;
  readonly targetCapacity: number;
  readonly maxCapacity: number;
  readonly workers: readonly WorkerStatus[];
  /** Spot pools (instance type × subnet) worker-fleet avoids, and why. */
  readonly riskyPools: readonly { readonly pool: string; readonly score: number; readonly reason: string }[];
}

const minutesSince = (then: Date | undefined, now: Date) =>
  then === undefined ? undefined : Math.floor((now.getTime() - then.getTime()) / 60_000);

/** What each fleet is doing: its running workers with the reaper's verdict on each, and its risky pools. */
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
    const judged = await judgeFleet(deps, fleet, heartbeats, now);
    const replacements = new Map(
      judged.flatMap(({ worker }) =>
        worker.tags[TAG.replaces] === undefined
          ? []
          : [[worker.tags[TAG.replaces], worker.instanceId] as const],
      ),
    );
    statuses.push({
      fleet,
      targetCapacity: spec.targetCapacity,
      maxCapacity: spec.maxCapacity,
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
          replacedBy,
          replaces: worker.tags[TAG.replaces],
        };
      }),
      riskyPools: risks,
    });
  }
  return statuses;
}
