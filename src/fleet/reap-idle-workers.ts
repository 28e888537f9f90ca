import type { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { CallCounter } from '../aws/call-counter';
import {
  listFleetWorkers,
  TERMINATION_PROTECTED,
  type TerminationFailure,
  tagWorkers,
  terminateWorkers,
  untagWorkers,
} from '../aws/ec2-workers';
import { listHeartbeats } from '../aws/heartbeats';
import { fetchWorkerMetrics, type WorkerMetrics } from '../aws/metrics';
import { publishNotification } from '../aws/notify';
import { type Config, fleetSpec } from '../config';
import type { ReapRequest } from '../events/reap';
import type { FleetSpec } from '../model/fleet-spec';
import type { Heartbeat } from '../model/heartbeat';
import { TAG } from '../model/tags';
import { judgeIdle } from './idle-policy';
import { type JudgedWorker, planReaping, type ReapAction } from './reap-plan';

export interface ReapDependencies {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  readonly logger: Logger;
  readonly config: Config;
  readonly now: () => Date;
  /** Counts the AWS calls the clients above make (see countCalls); reported per run. */
  readonly calls?: CallCounter;
}

export interface ReapedWorker {
  readonly instanceId: string;
  readonly explanation: string;
}

export interface FleetReapResult {
  readonly fleet: string;
  readonly dryRun: boolean;
  readonly workers: number;
  readonly verdicts: Readonly<Record<string, number>>;
  readonly marked: readonly ReapedWorker[];
  readonly unmarked: readonly ReapedWorker[];
  readonly terminated: readonly ReapedWorker[];
  /** Would have been terminated, on a dry run. */
  readonly wouldTerminate: readonly ReapedWorker[];
  /** Due, but EC2's termination protection is on: kept, and left marked. */
  readonly protected: readonly string[];
  readonly failed: readonly TerminationFailure[];
}

const reaped = (action: {
  worker: { instanceId: string };
  verdict: { explanation: string };
}): ReapedWorker => ({
  instanceId: action.worker.instanceId,
  explanation: action.verdict.explanation,
});

/**
 * Judges every running worker of a fleet on its heartbeat, CPU and network, as of `at`: what the reaper acts on and
 * what the operator CLI shows. Metrics are fetched only for workers past their boot grace, and only when the fleet
 * judges CPU.
 */
export async function judgeFleet(
  deps: Pick<ReapDependencies, 'ec2' | 'cloudwatch' | 'config'>,
  fleet: string,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  at: Date,
): Promise<JudgedWorker[]> {
  const { ec2, cloudwatch, config } = deps;
  const settings = fleetSpec(config, fleet).idle;
  const workers = (await listFleetWorkers(ec2, { managedBy: config.managedBy, fleet })).filter(
    (worker) => worker.state === 'running',
  );
  const graceMs = settings.bootGraceMinutes * 60_000;
  const measured = workers.filter(
    (worker) => at.getTime() - (worker.launchTime?.getTime() ?? at.getTime()) >= graceMs,
  );
  const metrics: ReadonlyMap<string, WorkerMetrics> =
    settings.cpu === undefined || measured.length === 0
      ? new Map()
      : await fetchWorkerMetrics(
          cloudwatch,
          measured.map((worker) => worker.instanceId),
          settings.cpu.windowMinutes,
          at,
        );
  return workers.map((worker) => {
    const data = metrics.get(worker.instanceId);
    return {
      worker,
      verdict: judgeIdle(
        settings,
        {
          launchTime: worker.launchTime,
          heartbeat: heartbeats.get(worker.instanceId),
          cpu: data === undefined ? undefined : { average: data.cpuAverage, maximum: data.cpuMaximum },
          networkBytes: data?.networkBytes,
        },
        at,
      ),
    };
  });
}

async function reapFleet(
  deps: ReapDependencies,
  fleet: string,
  spec: FleetSpec,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  dryRun: boolean,
): Promise<FleetReapResult> {
  const { ec2, sns, logger, config, now } = deps;
  const at = now();
  const settings = spec.idle;
  const judged = await judgeFleet(deps, fleet, heartbeats, at);
  const workers = judged.map(({ worker }) => worker);
  const plan = planReaping(settings, judged, at);
  for (const action of plan) {
    logger.info('idle verdict', {
      fleet,
      instanceId: action.worker.instanceId,
      verdict: action.verdict.kind,
      rule: action.verdict.rule,
      explanation: action.verdict.explanation,
      signals: action.verdict.signals,
      action: dryRun && action.action !== 'keep' ? `would ${action.action}` : action.action,
      ...(action.action === 'keep' ? { reason: action.reason } : {}),
    });
  }
  const of = <A extends ReapAction['action']>(kind: A) =>
    plan.filter((action): action is Extract<ReapAction, { action: A }> => action.action === kind);
  const toMark = of('mark');
  const toUnmark = of('unmark');
  const toTerminate = of('terminate');
  const verdicts: Record<string, number> = {};
  for (const { verdict } of judged) verdicts[verdict.kind] = (verdicts[verdict.kind] ?? 0) + 1;
  const base = { fleet, dryRun, workers: workers.length, verdicts };

  if (dryRun) {
    const wouldTerminate = toTerminate.map(reaped);
    if (toMark.length + wouldTerminate.length > 0) {
      await publishNotification(sns, config.topicArn, {
        kind: 'idle-dry-run',
        fleet,
        subject: `worker-fleet ${fleet}: dry run, would mark ${toMark.length} and terminate ${wouldTerminate.length} idle workers`,
        details: { wouldMark: toMark.map(reaped), wouldTerminate },
      });
    }
    return { ...base, marked: [], unmarked: [], terminated: [], wouldTerminate, protected: [], failed: [] };
  }

  const byRule = new Map<string, string[]>();
  for (const action of toMark) {
    byRule.set(action.verdict.rule, [...(byRule.get(action.verdict.rule) ?? []), action.worker.instanceId]);
  }
  for (const [rule, instanceIds] of byRule) {
    await tagWorkers(ec2, instanceIds, { [TAG.idleSince]: at.toISOString(), [TAG.idleReason]: rule });
  }
  await untagWorkers(
    ec2,
    toUnmark.map((action) => action.worker.instanceId),
    [TAG.idleSince, TAG.idleReason],
  );
  const outcome = await terminateWorkers(
    ec2,
    toTerminate.map((action) => action.worker.instanceId),
  );
  const { terminated } = outcome;
  const shielded = outcome.failed.filter((failure) => failure.code === TERMINATION_PROTECTED);
  const failed = outcome.failed.filter((failure) => failure.code !== TERMINATION_PROTECTED);
  for (const { instanceId } of shielded) {
    logger.info('idle worker kept', { fleet, instanceId, reason: 'termination protection is on' });
  }
  for (const failure of failed) logger.error('terminate failed', { fleet, ...failure });

  if (toMark.length > 0) {
    await publishNotification(sns, config.topicArn, {
      kind: 'idle-warning',
      fleet,
      subject: `worker-fleet ${fleet}: ${toMark.length} workers idle, terminated in ${settings.terminateAfterMinutes}m unless busy`,
      details: { marked: toMark.map(reaped), terminateAfterMinutes: settings.terminateAfterMinutes },
    });
  }
  const terminatedWorkers = toTerminate
    .filter((action) => terminated.includes(action.worker.instanceId))
    .map(reaped);
  if (terminatedWorkers.length + failed.length > 0) {
    await publishNotification(sns, config.topicArn, {
      kind: 'idle-terminated',
      fleet,
      subject: `worker-fleet ${fleet}: terminated ${terminatedWorkers.length} idle workers${failed.length > 0 ? `, ${failed.length} failed` : ''}`,
      details: { terminated: terminatedWorkers, failed },
    });
  }
  return {
    ...base,
    marked: toMark.map(reaped),
    unmarked: toUnmark.map(reaped),
    terminated: terminatedWorkers,
    wouldTerminate: [],
    protected: shielded.map((failure) => failure.instanceId),
    failed,
  };
}

/**
 * Judges every running worker of the fleet (or of every fleet) and acts on the verdicts in two phases: mark, then
 * terminate at a later run. Only workers carrying this deployment's managed-by tag are ever listed, so nothing else
 * can be touched. Heartbeats are listed once for all fleets.
 */
export async function reapIdleWorkers(
  deps: ReapDependencies,
  request: ReapRequest = {},
): Promise<FleetReapResult[]> {
  const { config, logger, calls } = deps;
  const fleets = request.fleet === undefined ? Object.keys(config.fleets) : [request.fleet];
  const specs = fleets.map((fleet) => [fleet, fleetSpec(config, fleet)] as const);
  const dryRun = request.dryRun ?? config.dryRun;
  calls?.reset();
  const needsHeartbeats = specs.some(([, spec]) => spec.idle.heartbeatTimeoutMinutes !== undefined);
  const heartbeats = needsHeartbeats ? await listHeartbeats(deps.s3, config.fleetBucket) : new Map();
  const results: FleetReapResult[] = [];
  for (const [fleet, spec] of specs) results.push(await reapFleet(deps, fleet, spec, heartbeats, dryRun));
  logger.info('reap finished', {
    dryRun,
    fleets: results.map(({ fleet, workers, marked, unmarked, terminated, wouldTerminate, failed }) => ({
      fleet,
      workers,
      marked: marked.length,
      unmarked: unmarked.length,
      terminated: terminated.length,
      wouldTerminate: wouldTerminate.length,
      failed: failed.length,
    })),
    awsCalls: calls?.snapshot(),
  });
  return results;
}
