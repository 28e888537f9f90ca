import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { CallCounter } from '../aws/call-counter';
import {
  describeWorkers,
  listFleetWorkers,
  TERMINATION_PROTECTED,
  type TerminationFailure,
  tagWorkers,
  untagWorkers,
} from '../aws/ec2-workers';
import { listHeartbeats } from '../aws/heartbeats';
import { fetchWorkerMetrics, type WorkerMetrics } from '../aws/metrics';
import { notify } from '../aws/notification-event';
import { type Config, fleetSpec } from '../config';
import type { ReapRequest } from '../events/reap';
import { type MetricsSink, NO_FLEET } from '../model/fleet-metrics';
import type { FleetSpec } from '../model/fleet-spec';
import type { FleetFacts, FleetState, HeldLease } from '../model/fleet-state';
import type { Heartbeat } from '../model/heartbeat';
import { TAG } from '../model/tags';
import type { Worker } from '../model/worker';
import { disruptionWindowOpen } from './disruption-windows';
import type { DueRetirement } from './due-retirements';
import { judgeIdle } from './idle-policy';
import {
  holdForStaleHeartbeats,
  isProtected,
  type JudgedWorker,
  planReaping,
  type ReapAction,
  type ReapHold,
  retirementCandidates,
} from './reap-plan';
import { carryOutRetirements, notifyRetired, type RetirementOutcome } from './retirement';
import {
  budgetedWorkers,
  disruptionBudget,
  planRetirements,
  type RetirementCandidate,
  type RetirementPlan,
} from './retirement-plan';
import { findDueRetirements, notifyScheduledChanges } from './scheduled-changes';

export interface ReapDependencies {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly state: FleetState;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly metrics: MetricsSink;
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
  /** Why this run marked and terminated nothing, when it was held: most heartbeats stale at once. */
  readonly held?: string;
  /** Retirements whose replacement this run asked for (replaced first). */
  readonly replacing?: readonly string[];
  /** Workers this run asked to drain (their drain tag). */
  readonly draining?: readonly string[];
  /** Retirements that wait: for their replacement, their drain, the budget. */
  readonly waiting?: readonly { readonly instanceId: string; readonly why: string }[];
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
  /** The fleet's workers when the caller has listed them; listed here otherwise. */
  listed?: readonly Worker[],
): Promise<JudgedWorker[]> {
  const { ec2, cloudwatch, config } = deps;
  const settings = fleetSpec(config, fleet).idle;
  const workers = (
    listed ??
    (await listFleetWorkers(ec2, {
      managedBy: config.managedBy,
      instanceProfile: config.instanceProfile,
      fleet,
    }))
  ).filter((worker) => worker.state === 'running');
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

/** A fleet's plan, by action: what this run marks, unmarks and terminates. */
interface FleetPlan {
  readonly judged: readonly JudgedWorker[];
  readonly toMark: readonly Extract<ReapAction, { action: 'mark' }>[];
  readonly toUnmark: readonly Extract<ReapAction, { action: 'unmark' }>[];
  readonly toTerminate: readonly Extract<ReapAction, { action: 'terminate' }>[];
  readonly kept: readonly Extract<ReapAction, { action: 'keep' }>[];
  /** Set when the run is held (planReaping then marks and terminates nothing). */
  readonly hold?: ReapHold;
}

/** What applying a plan did: terminated, kept by EC2's termination protection, failed. */
interface Applied {
  readonly terminated: readonly ReapedWorker[];
  readonly protected: readonly string[];
  readonly failed: readonly TerminationFailure[];
}

/** Plan: every verdict and its action, logged one line per worker (the explanation of the run); a hold, at warn. */
function planFleet(
  logger: Logger,
  fleet: string,
  settings: FleetSpec['idle'],
  judged: readonly JudgedWorker[],
  at: Date,
  dryRun: boolean,
): FleetPlan {
  const plan = planReaping(settings, judged, at);
  const hold = holdForStaleHeartbeats(settings, judged);
  if (hold !== undefined) logger.warn('reap held', { fleet, ...hold });
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
  return {
    judged,
    toMark: of('mark'),
    toUnmark: of('unmark'),
    toTerminate: of('terminate'),
    kept: of('keep'),
    hold,
  };
}

/** Apply: mark (the idle tags, one call per rule) and unmark. Terminations go through the graceful path. */
async function applyMarks(ec2: EC2Client, plan: FleetPlan, at: Date): Promise<void> {
  const byRule = new Map<string, string[]>();
  for (const action of plan.toMark) {
    byRule.set(action.verdict.rule, [...(byRule.get(action.verdict.rule) ?? []), action.worker.instanceId]);
  }
  for (const [rule, instanceIds] of byRule) {
    await tagWorkers(ec2, instanceIds, { [TAG.idleSince]: at.toISOString(), [TAG.idleReason]: rule });
  }
  await untagWorkers(
    ec2,
    plan.toUnmark.map((action) => action.worker.instanceId),
    [TAG.idleSince, TAG.idleReason],
  );
}

/** What a run that acted tells the metrics: marked, terminated, and the idle workers kept by protection or floor. */
function measureReap(metrics: MetricsSink, fleet: string, plan: FleetPlan, applied: Applied): void {
  const keptBy = (why: 'protection' | 'floor') => plan.kept.filter((action) => action.keptBy === why).length;
  metrics.add('IdleMarked', plan.toMark.length, { fleet });
  metrics.add('IdleTerminated', applied.terminated.length, { fleet });
  // EC2's termination protection keeps a worker the plan would terminate, as the protected tag does.
  metrics.add('IdleKeptByProtection', keptBy('protection') + applied.protected.length, { fleet });
  metrics.add('IdleKeptByFloor', keptBy('floor'), { fleet });
}

/** Notify: what was marked (a warning with the delay), then what was terminated or failed; nothing when nothing. */
async function notifyApplied(
  deps: Pick<ReapDependencies, 'sns' | 'events' | 'config'>,
  fleet: string,
  settings: FleetSpec['idle'],
  plan: FleetPlan,
  applied: Applied,
): Promise<void> {
  const { config } = deps;
  const { toMark } = plan;
  const { terminated, failed } = applied;
  if (toMark.length > 0) {
    await notify(deps, config.topicArn, {
      kind: 'idle-warning',
      fleet,
      subject: `worker-fleet ${fleet}: ${toMark.length} workers idle, terminated in ${settings.terminateAfterMinutes}m unless busy`,
      details: { marked: toMark.map(reaped), terminateAfterMinutes: settings.terminateAfterMinutes },
    });
  }
  if (terminated.length + failed.length > 0) {
    await notify(deps, config.topicArn, {
      kind: 'idle-terminated',
      fleet,
      subject: `worker-fleet ${fleet}: terminated ${terminated.length} idle workers${failed.length > 0 ? `, ${failed.length} failed` : ''}`,
      details: { terminated, failed },
    });
  }
}

/** Notify, on a dry run: what the run would mark and terminate; nothing when it would do nothing. */
async function notifyDryRun(
  deps: Pick<ReapDependencies, 'sns' | 'events' | 'config'>,
  fleet: string,
  plan: FleetPlan,
) {
  const { toMark, toTerminate } = plan;
  if (toMark.length + toTerminate.length === 0) return;
  await notify(deps, deps.config.topicArn, {
    kind: 'idle-dry-run',
    fleet,
    subject: `worker-fleet ${fleet}: dry run, would mark ${toMark.length} and terminate ${toTerminate.length} idle workers`,
    details: { wouldMark: toMark.map(reaped), wouldTerminate: toTerminate.map(reaped) },
  });
}

/**
 * Idle workers whose retirement begins are demand gone: the fleet's desired size drops by as many (never below its
 * floor) before they are drained: a request of the fleet, applied by its reconciliation under its fence. Retired
 * workers of other reasons are not: their slots are refilled (replaced first where the reason says so). A retirement
 * that then does not happen leaves the size lower than the workers running, which only means none is launched. A
 * request that cannot be recorded is logged; the next launch request sets the size again.
 */
async function lowerDesired(
  deps: ReapDependencies,
  fleet: string,
  spec: FleetSpec,
  idle: readonly Worker[],
): Promise<void> {
  // One request per worker and idle mark, named by them: a run that dies before recording the retirements, and the
  // next run that starts them again, lower the size once for each worker; a worker marked idle again later is
  // another request.
  for (const { instanceId, tags } of idle) {
    try {
      await deps.state.addRequest(fleet, {
        id: `reap-${instanceId}-${tags[TAG.idleSince] ?? ''}`,
        kind: 'reap',
        shrink: 1,
        floor: spec.idle.minWorkers,
        at: deps.now().toISOString(),
      });
    } catch (error) {
      deps.logger.warn('desired size not lowered for an idle worker retired', { fleet, instanceId, error });
    }
  }
}

/** Workers on their way out through the graceful path: a retirement fact, or the drain tag a lost one left. */
const retiringOf = (workers: readonly Worker[], facts: FleetFacts) =>
  new Set([
    ...Object.keys(facts.retirements ?? {}),
    ...workers.filter((worker) => TAG.drainRequestedAt in worker.tags).map((worker) => worker.instanceId),
  ]);

/**
 * The idle half of a run: judge, plan, mark and unmark; the workers due (asked again right before) are returned as
 * retirement candidates. Workers already retiring are not judged. On a dry run, only notifies what it would do.
 */
async function judgeIdleWorkers(
  deps: ReapDependencies,
  fleet: string,
  spec: FleetSpec,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  dryRun: boolean,
  workers: readonly Worker[],
  retiring: ReadonlySet<string>,
  lease: HeldLease,
) {
  const at = deps.now();
  const judged = await judgeFleet(
    deps,
    fleet,
    heartbeats,
    at,
    workers.filter((worker) => !retiring.has(worker.instanceId)),
  );
  const plan = planFleet(deps.logger, fleet, spec.idle, judged, at, dryRun);
  if (dryRun) {
    await notifyDryRun(deps, fleet, plan);
    return { plan, due: plan };
  }
  const due = await stillDue(deps, fleet, plan, heartbeats);
  // The fence: a run whose lease was taken over (it stalled past REAP_LEASE_TTL_MS) changes nothing.
  await deps.state.commit(lease, []);
  await applyMarks(deps.ec2, plan, at);
  return { plan, due };
}

/** Whether the fleet's disruption windows are open now; an expression the parser refuses is logged, and opens none. */
function windowOpenFor(deps: Pick<ReapDependencies, 'logger'>, fleet: string, spec: FleetSpec, at: Date) {
  const { open, refused } = disruptionWindowOpen(spec.disruption?.windows, at);
  if (refused.length > 0)
    deps.logger.error('disruption window not understood: it opens nothing', { fleet, refused });
  return open;
}

/**
 * One fleet's run: with `idle`, judge idle workers (mark, then due at a later run); then carry every retirement one
 * step on through the graceful path (src/fleet/retirement.ts): idle workers due, workers replaced early, past their
 * max lifetime or above the fleet's max, and what other triggers asked (an operator's drain), under the fleet's
 * disruption budget. On a dry run, only notify and log what would be done.
 */
async function reapFleet(
  deps: ReapDependencies,
  fleet: string,
  spec: FleetSpec,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  options: { readonly dryRun: boolean; readonly idle: boolean },
  lease: HeldLease,
): Promise<FleetReapResult> {
  const { dryRun } = options;
  const { ec2, config, state, metrics } = deps;
  const at = deps.now();
  const workers = await listFleetWorkers(ec2, {
    managedBy: config.managedBy,
    instanceProfile: config.instanceProfile,
    fleet,
  });
  const facts = await state.readFacts(fleet, at);
  const retiring = retiringOf(workers, facts);
  const idle = options.idle
    ? await judgeIdleWorkers(deps, fleet, spec, heartbeats, dryRun, workers, retiring, lease)
    : undefined;
  const verdicts: Record<string, number> = {};
  for (const { verdict } of idle?.plan.judged ?? [])
    verdicts[verdict.kind] = (verdicts[verdict.kind] ?? 0) + 1;
  const explanations = new Map(
    (idle?.due.toTerminate ?? []).map((action) => [action.worker.instanceId, action.verdict.explanation]),
  );
  // What AWS scheduled (a Health event's record, or the backstop's DescribeInstanceStatus) and image drift: replaced
  // first and drained like the rest. A worker is retired once, for the first candidate that names it: what AWS
  // scheduled first (its time is AWS's), then the reaper's own reasons, then drift.
  // A worker already retiring is named too when AWS scheduled a change for it: its retirement is then bounded by it.
  const due = (await findDueRetirements(deps, fleet, spec, workers, facts, { dryRun })).filter(
    (retirement) => retirement.reason === 'scheduled-change' || !retiring.has(retirement.instanceId),
  );
  const dueCandidates = (reason: DueRetirement['reason']): RetirementCandidate[] =>
    due.flatMap((retirement) => {
      const worker = workers.find((candidate) => candidate.instanceId === retirement.instanceId);
      if (worker === undefined || retirement.reason !== reason) return [];
      return [
        {
          worker,
          reason,
          ...(retirement.correlationId === undefined ? {} : { correlationId: retirement.correlationId }),
          ...(retirement.notAfter === undefined ? {} : { notAfter: retirement.notAfter }),
        },
      ];
    });
  const candidates: RetirementCandidate[] = [
    ...dueCandidates('scheduled-change'),
    ...retirementCandidates(spec, workers, retiring, heartbeats, at),
    ...(idle?.due.toTerminate ?? []).map((action) => ({ worker: action.worker, reason: 'idle' as const })),
    ...dueCandidates('ami-drift'),
  ];
  const capacity = workers.filter(
    (worker) =>
      (worker.state === 'running' || worker.state === 'pending') && !(TAG.interruptedAt in worker.tags),
  ).length;
  metrics.add('WorkersAboveMax', Math.max(0, capacity - spec.maxCapacity), { fleet });
  const plan = planRetirements({
    workers,
    facts,
    candidates,
    heartbeats,
    budget: disruptionBudget(spec, budgetedWorkers(workers, retiring)),
    windowOpen: windowOpenFor(deps, fleet, spec, at),
    drainGraceMinutes: spec.drainGraceMinutes,
    now: at,
  });
  if (!dryRun) {
    await lowerDesired(
      deps,
      fleet,
      spec,
      workers.filter((worker) =>
        plan.started.some((fact) => fact.reason === 'idle' && fact.instanceId === worker.instanceId),
      ),
    );
    const told = new Set([
      ...plan.started.filter((fact) => fact.reason === 'scheduled-change').map((fact) => fact.instanceId),
      ...plan.rescheduled.map((fact) => fact.instanceId),
    ]);
    await notifyScheduledChanges(
      deps,
      fleet,
      due.filter((retirement) => retirement.reason === 'scheduled-change' && told.has(retirement.instanceId)),
    );
  }
  const outcome = await carryOutRetirements(deps, fleet, plan, lease, { dryRun, now: at });
  const retired = retirementResult(plan, outcome, dryRun, (worker) => ({
    instanceId: worker.instanceId,
    explanation: explanations.get(worker.instanceId) ?? retiredBecause(worker),
  }));
  const base = {
    fleet,
    dryRun,
    workers: idle?.plan.judged.length ?? workers.length,
    verdicts,
    ...(idle?.plan.hold === undefined ? {} : { held: idle.plan.hold.reason }),
    ...retired,
    marked: [],
    unmarked: [],
  };
  if (dryRun) return base;
  const idleTerminated = new Set(
    outcome.terminated.filter((worker) => worker.reason === 'idle').map((worker) => worker.instanceId),
  );
  if (idle !== undefined) {
    const idleApplied = {
      ...retired,
      terminated: retired.terminated.filter((worker) => idleTerminated.has(worker.instanceId)),
    };
    measureReap(metrics, fleet, idle.plan, idleApplied);
    await notifyApplied(deps, fleet, spec.idle, idle.plan, idleApplied);
  }
  const others = outcome.terminated.filter((worker) => !idleTerminated.has(worker.instanceId));
  if (others.length > 0) await notifyRetired(deps, fleet, others);
  return {
    ...base,
    marked: idle?.plan.toMark.map(reaped) ?? [],
    unmarked: idle?.plan.toUnmark.map(reaped) ?? [],
  };
}

/** `retired: max-lifetime, its agent reports drained`: why a worker was (or would be) retired. */
const retiredBecause = (worker: { readonly reason: string; readonly why?: string }) =>
  `retired: ${worker.reason}${worker.why ? `, ${worker.why}` : ''}`;

/**
 * A run's retirements as a fleet's result: replacing, draining and waiting; the workers terminated, explained, with
 * those EC2's termination protection kept apart from other failures; on a dry run, what it would terminate instead.
 */
function retirementResult(
  plan: RetirementPlan,
  outcome: RetirementOutcome,
  dryRun: boolean,
  explain: (worker: {
    readonly instanceId: string;
    readonly reason: string;
    readonly why?: string;
  }) => ReapedWorker,
): Pick<
  FleetReapResult,
  'replacing' | 'draining' | 'waiting' | 'terminated' | 'wouldTerminate' | 'protected' | 'failed'
> {
  const underWay = { replacing: outcome.replacing, draining: outcome.draining, waiting: outcome.waiting };
  if (dryRun) {
    const wouldTerminate = plan.steps.flatMap((step) =>
      step.step === 'terminate' ? [explain({ ...step.fact, why: step.why })] : [],
    );
    return { ...underWay, terminated: [], wouldTerminate, protected: [], failed: [] };
  }
  const isProtection = (failure: TerminationFailure) => failure.code === TERMINATION_PROTECTED;
  return {
    ...underWay,
    terminated: outcome.terminated.map(explain),
    wouldTerminate: [],
    protected: outcome.failed.filter(isProtection).map((failure) => failure.instanceId),
    failed: outcome.failed.filter((failure) => !isProtection(failure)),
  };
}

/**
 * How long the workers of a fleet no longer configured keep running before they are asked to drain: a fleet removed
 * by mistake and pushed back within it loses nothing (its orphan retirements are forgotten).
 */
export const ORPHAN_GRACE_MINUTES = 30;
/** An orphan's drain grace: its fleet's drainGraceMinutes are gone with its configuration. */
const ORPHAN_DRAIN_GRACE_MINUTES = 10;

/**
 * The workers of fleets no longer configured (orphans): each fleet's, under its reaper lease, through the graceful
 * path: not replaced, drained after ORPHAN_GRACE_MINUTES, terminated once drained or ORPHAN_DRAIN_GRACE_MINUTES
 * later. Found among every worker this deployment owns.
 */
async function retireOrphans(
  deps: ReapDependencies,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  dryRun: boolean,
): Promise<FleetReapResult[]> {
  const { ec2, config, state, logger } = deps;
  const owned = await listFleetWorkers(ec2, {
    managedBy: config.managedBy,
    instanceProfile: config.instanceProfile,
  });
  const orphans = new Map<string, Worker[]>();
  for (const worker of owned) {
    const fleet = worker.tags[TAG.fleet];
    if (fleet === undefined || fleet in config.fleets) continue;
    orphans.set(fleet, [...(orphans.get(fleet) ?? []), worker]);
  }
  const results: FleetReapResult[] = [];
  for (const [fleet, workers] of orphans) {
    logger.warn('orphan workers: their fleet is no longer configured', {
      fleet,
      instanceIds: workers.map((worker) => worker.instanceId),
    });
    results.push(
      await oneRunAtATime(deps, fleet, async (lease) => {
        const at = deps.now();
        const facts = await state.readFacts(fleet, at);
        const retiring = retiringOf(workers, facts);
        const notBefore = new Date(at.getTime() + ORPHAN_GRACE_MINUTES * 60_000);
        const plan = planRetirements({
          workers,
          facts,
          candidates: workers
            .filter((worker) => !retiring.has(worker.instanceId))
            .map((worker) => ({ worker, reason: 'orphan' as const, notBefore })),
          heartbeats,
          budget: Number.POSITIVE_INFINITY,
          drainGraceMinutes: ORPHAN_DRAIN_GRACE_MINUTES,
          now: at,
          configured: false,
        });
        const outcome = await carryOutRetirements(deps, fleet, plan, lease, { dryRun, now: at });
        // Found for the first time (their retirement just recorded): told once, with when they go.
        const found = plan.started;
        if (!dryRun && found.length > 0) {
          await notify(deps, config.topicArn, {
            kind: 'idle-warning',
            fleet,
            subject: `worker-fleet ${fleet}: ${found.length} workers of a fleet no longer configured, drained from ${notBefore.toISOString()} and terminated`,
            details: {
              orphans: found.map((fact) => fact.instanceId),
              drainFrom: notBefore.toISOString(),
              drainGraceMinutes: ORPHAN_DRAIN_GRACE_MINUTES,
            },
          });
        }
        if (outcome.terminated.length > 0) await notifyRetired(deps, fleet, outcome.terminated);
        return {
          ...EMPTY_RESULT,
          fleet,
          dryRun,
          workers: workers.length,
          ...retirementResult(plan, outcome, dryRun, (worker) => ({
            instanceId: worker.instanceId,
            explanation: retiredBecause(worker),
          })),
        };
      }),
    );
  }
  return results;
}

/**
 * The plan's terminations less the workers that changed since they were judged, asked again right before they are
 * terminated (their tags, and the heartbeats of those judged idle): a worker now protected, no longer marked, gone
 * from running, or whose heartbeat now says something else (its agent wrote `busy` after the heartbeats were listed)
 * is kept, and judged afresh by the next run. "Never a busy worker" holds up to the termination itself (#26).
 */
async function stillDue(
  deps: ReapDependencies,
  fleet: string,
  plan: FleetPlan,
  heartbeats: ReadonlyMap<string, Heartbeat>,
): Promise<FleetPlan> {
  if (plan.toTerminate.length === 0) return plan;
  const { ec2, s3, config, logger } = deps;
  const idle = plan.toTerminate.filter((action) => action.verdict.kind === 'idle');
  // Heartbeats listed again (one call per 1,000, as at the start of the run), for the workers judged idle.
  const [now, beats] = await Promise.all([
    describeWorkers(
      ec2,
      plan.toTerminate.map((action) => action.worker.instanceId),
    ),
    idle.length === 0
      ? new Map<string, Heartbeat>()
      : listHeartbeats(s3, config.fleetBucket, config.workerRoleId),
  ]);
  const judgedIdle = new Set(idle.map((action) => action.worker.instanceId));
  const changed = (action: FleetPlan['toTerminate'][number]): string | undefined => {
    const { instanceId } = action.worker;
    const worker = now.get(instanceId);
    if (worker === undefined || worker.state !== 'running') return 'no longer running';
    if (isProtected(worker)) return 'protected since it was judged';
    if (TAG.idleSince in action.worker.tags && !(TAG.idleSince in worker.tags)) return 'no longer marked';
    if (!judgedIdle.has(instanceId)) return undefined;
    const judged = heartbeats.get(instanceId);
    const fresh = beats.get(instanceId);
    if (fresh?.unreadable !== undefined) return `heartbeat unreadable (${fresh.unreadable})`;
    if (fresh !== undefined && fresh.status !== judged?.status)
      return `heartbeat now says ${fresh.status ?? 'nothing known'}`;
    return undefined;
  };
  const toTerminate = plan.toTerminate.filter((action) => {
    const why = changed(action);
    if (why !== undefined)
      logger.info('worker kept: changed since it was judged', {
        fleet,
        instanceId: action.worker.instanceId,
        why,
      });
    return why === undefined;
  });
  return { ...plan, toTerminate };
}

/**
 * The reaper's timeout (300 s) and a margin: a run Lambda kills has stopped before its lease expires, and one that
 * dies holding it blocks the next runs of its fleet no longer.
 */
export const REAP_LEASE_TTL_MS = 330_000;
/** How long a run waits for another run of the same fleet, in steps, before it leaves the fleet to the next run. */
const REAP_LEASE_WAITS_MS = [250, 500, 1000, 2000, 4000];

/**
 * Runs `reap` holding the fleet's reaper lease, so that two runs at once never judge the same fleet together (each
 * would allow itself the floor's terminations). A run that finds the lease held waits for it a while, then leaves
 * the fleet held for the next run. The lease is fenced: a run whose lease was taken over terminates nothing.
 */
async function oneRunAtATime(
  deps: ReapDependencies,
  fleet: string,
  reap: (lease: HeldLease) => Promise<FleetReapResult>,
): Promise<FleetReapResult> {
  const { state, logger, now } = deps;
  const holder = randomUUID();
  for (const wait of [...REAP_LEASE_WAITS_MS, undefined]) {
    const attempt = await state.takeLease(fleet, 'reap', {
      holder,
      now: now(),
      ttlMs: REAP_LEASE_TTL_MS,
      handOff: false,
    });
    if (attempt.kind === 'held') {
      try {
        return await reap(attempt.lease);
      } finally {
        await state
          .releaseLease(attempt.lease, { now: now(), ttlMs: REAP_LEASE_TTL_MS, keepPending: true })
          .catch((error: unknown) => logger.warn('reaper lease not released, it expires', { fleet, error }));
      }
    }
    if (wait !== undefined) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const held = 'another run of the reaper holds this fleet';
  logger.warn('reap held', { fleet, reason: held });
  return { ...EMPTY_RESULT, fleet, dryRun: false, held };
}

const EMPTY_RESULT = {
  workers: 0,
  verdicts: {},
  marked: [],
  unmarked: [],
  terminated: [],
  wouldTerminate: [],
  protected: [],
  failed: [],
} as const;

/** Every worker's heartbeat; one that cannot be read is told (a warning, a metric) and judged unknown, alone. */
async function readHeartbeats(deps: ReapDependencies): Promise<ReadonlyMap<string, Heartbeat>> {
  const { config, logger, metrics } = deps;
  const heartbeats = await listHeartbeats(deps.s3, config.fleetBucket, config.workerRoleId);
  const unreadable = [...heartbeats].filter(([, heartbeat]) => heartbeat.unreadable !== undefined);
  for (const [instanceId, { unreadable: error }] of unreadable) {
    logger.warn('heartbeat unreadable, worker judged unknown', { instanceId, error });
  }
  if (unreadable.length > 0) metrics.add('HeartbeatsUnreadable', unreadable.length, { fleet: NO_FLEET });
  return heartbeats;
}

/**
 * Judges every running worker of the fleet (or of every fleet) and acts on the verdicts in two phases: mark, then
 * retire at a later run; and carries every retirement one step on (src/fleet/retirement.ts). With `retireOnly`
 * (the retire schedule, on by default), only the retirements. Only workers carrying this deployment's managed-by tag are ever listed, so nothing else
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
  // Idle judging on request (the reap schedule, a direct run); retirements on every run (the retire schedule too).
  const idle = request.retireOnly !== true;
  // Heartbeats are read on every run: a retiring worker's agent says `drained` there.
  const heartbeats = await readHeartbeats(deps);
  const results: FleetReapResult[] = [];
  for (const [fleet, spec] of specs) {
    results.push(
      await oneRunAtATime(deps, fleet, (lease) =>
        reapFleet(deps, fleet, spec, heartbeats, { dryRun, idle }, lease),
      ),
    );
  }
  // A run for every fleet also retires the workers of fleets no longer configured.
  if (request.fleet === undefined) results.push(...(await retireOrphans(deps, heartbeats, dryRun)));
  logger.info('reap finished', {
    dryRun,
    fleets: results.map(({ fleet, workers, marked, unmarked, terminated, wouldTerminate, failed, held }) => ({
      fleet,
      workers,
      held,
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
