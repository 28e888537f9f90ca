import { randomUUID } from 'node:crypto';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { listFleetWorkers } from '../aws/ec2-workers';
import { acquireLease, type HeldLease, releaseLease } from '../aws/lease';
import { notify } from '../aws/notification-event';
import { readJson, stateUnavailable, updateState } from '../aws/state-store';
import type { MetricsSink } from '../model/fleet-metrics';
import type { FleetSpec } from '../model/fleet-spec';
import { TAG } from '../model/tags';
import type { Worker } from '../model/worker';
import {
  type CapacityError,
  type LaunchDependencies,
  type LaunchOutcome,
  launchInstances,
} from './launch-instances';
import {
  APPLIED_MEMORY,
  type FleetRecord,
  type Growth,
  type PlannedReplacement,
  planReconcile,
  type ReconcilePlan,
  type ReplacementFact,
} from './reconcile-plan';

export interface ReconcileDependencies extends LaunchDependencies {
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly metrics: MetricsSink;
}

/** Where a fleet's facts and its reconciliation lease live in the state bucket. */
export const fleetRecordKey = (managedBy: string, fleet: string) => `fleets/${managedBy}/${fleet}.json`;
export const fleetLeaseKey = (managedBy: string, fleet: string) => `leases/${managedBy}/${fleet}.json`;

/**
 * How long a reconciliation may hold its fleet's lease: the longest timeout of the functions that reconcile
 * (launchWorkers, 60 s). An invocation that dies holding it blocks the fleet no longer than this.
 */
export const LEASE_TTL_MS = 60_000;

export interface ReplacementResult {
  /** `handed-off`: the invocation reconciling the fleet was asked to run again, and launches it. */
  readonly status: 'launched' | 'already-replaced' | 'no-capacity' | 'handed-off';
  readonly instanceIds: readonly string[];
  readonly pools: readonly { instanceType: string; subnetId: string; market: string }[];
  readonly onDemandFallback: number;
}

/** What one reconciliation of a fleet did. */
export interface ReconcileOutcome {
  /** `handed-off`: another invocation held the lease and was asked to run again; it does the work. */
  readonly status: 'reconciled' | 'handed-off' | 'without-state';
  readonly fleet: string;
  readonly active: number;
  readonly desired?: number;
  readonly capped: boolean;
  /** Workers launched to reach the desired size. */
  readonly launched: readonly Worker[];
  readonly requested: number;
  readonly onDemandFallback: number;
  readonly shortfall: number;
  readonly capacityErrors: readonly CapacityError[];
  /** Replacements launched or tried, by the worker they replace. */
  readonly replacements: ReadonlyMap<string, ReplacementResult>;
}

/** Adds to a fleet's facts (a size request, a replacement), safely against concurrent writers. */
export async function recordFleetFacts(
  deps: Pick<ReconcileDependencies, 's3' | 'config'>,
  fleet: string,
  change: (record: FleetRecord) => FleetRecord,
): Promise<FleetRecord> {
  const { s3, config } = deps;
  return updateState<FleetRecord>(
    s3,
    config.stateBucket,
    fleetRecordKey(config.managedBy, fleet),
    (current) => change(current ?? {}),
  );
}

/**
 * Records a trigger's fact. When the state bucket is unavailable, says so and resolves to false: the trigger then
 * reconciles on its own facts, without the lease (see reconcileFleet). Any other failure is thrown.
 */
export async function recordTriggerFact(
  deps: Pick<ReconcileDependencies, 's3' | 'config' | 'logger'>,
  fleet: string,
  change: (record: FleetRecord) => FleetRecord,
  context: Readonly<Record<string, unknown>>,
): Promise<boolean> {
  try {
    await recordFleetFacts(deps, fleet, change);
    return true;
  } catch (error) {
    if (!stateUnavailable(error)) throw error;
    deps.logger.warn('state bucket unavailable, the fact is acted on unrecorded', {
      fleet,
      ...context,
      error,
    });
    return false;
  }
}

const replacementResult = (outcome: LaunchOutcome): ReplacementResult => ({
  status: outcome.launched.length > 0 ? 'launched' : 'no-capacity',
  instanceIds: outcome.launched.map((worker) => worker.instanceId),
  pools: outcome.launched.map(({ instanceType, subnetId, market }) => ({ instanceType, subnetId, market })),
  onDemandFallback: outcome.onDemandFallback,
});

async function launchReplacement(
  deps: ReconcileDependencies,
  fleet: string,
  spec: FleetSpec,
  replacement: PlannedReplacement,
): Promise<LaunchOutcome> {
  return launchInstances(deps, {
    fleet,
    spec,
    count: 1,
    reason: 'replacement',
    triggerId: `replace-${replacement.instanceId}`,
    slot: `replace-${replacement.instanceId}`,
    avoidSpotPools: new Set([replacement.avoid]),
    extraTags: { [TAG.replaces]: replacement.instanceId },
  });
}

/** The facts after a plan's requests are applied and the replacements it found running are recorded. */
function withPlanApplied(record: FleetRecord, plan: ReconcilePlan, now: Date): FleetRecord {
  const applied = new Set(plan.applied.map((request) => request.id));
  const replacements: Record<string, ReplacementFact> = { ...record.replacements };
  for (const { instanceId, by } of plan.satisfied) {
    const fact = replacements[instanceId];
    if (fact?.status === 'pending') {
      replacements[instanceId] = {
        ...fact,
        status: 'launched',
        instanceIds: by,
        launchedAt: now.toISOString(),
      };
    }
  }
  return {
    ...record,
    desired: plan.desired,
    ...(plan.desiredBy === undefined ? {} : { desiredBy: plan.desiredBy }),
    ...(plan.growth === undefined ? {} : { growth: plan.growth }),
    requests: (record.requests ?? []).filter((request) => !applied.has(request.id)),
    applied: [...(record.applied ?? []), ...applied].slice(-APPLIED_MEMORY),
    replacements,
  };
}

/** Replacement facts told this long ago are forgotten: the fleet's document stays small. */
const FORGET_TOLD_AFTER_MS = 24 * 60 * 60 * 1000;

/** Moves replacement facts on: to `launched` with their instances, or to `notified`; forgets old told ones. */
function withReplacements(
  record: FleetRecord,
  changes: ReadonlyMap<
    string,
    Partial<Pick<ReplacementFact, 'status' | 'instanceIds' | 'launchedAt' | 'toldNoCapacity'>>
  >,
  now: Date,
): FleetRecord {
  const replacements: Record<string, ReplacementFact> = {};
  for (const [instanceId, fact] of Object.entries(record.replacements ?? {})) {
    const told =
      fact.status === 'notified' &&
      Date.parse(fact.launchedAt ?? fact.at) < now.getTime() - FORGET_TOLD_AFTER_MS;
    if (!told) replacements[instanceId] = { ...fact, ...changes.get(instanceId) };
  }
  return { ...record, replacements };
}

/** How a replacement notification names its cause. */
const CAUSE_TEXT: Readonly<Record<ReplacementFact['cause'], string>> = {
  'spot-interruption': 'spot-interruption',
  'rebalance-recommendation': 'rebalance-recommendation',
  'missed-warning': 'terminated without a warning',
};

async function notifyReplacement(
  deps: ReconcileDependencies,
  fleet: string,
  instanceId: string,
  fact: Pick<ReplacementFact, 'cause' | 'correlationId'>,
  replacement: ReplacementResult,
): Promise<void> {
  await notify(deps, deps.config.topicArn, {
    kind: 'replacement',
    fleet,
    subject:
      replacement.status === 'launched'
        ? `worker-fleet ${fleet}: ${instanceId} replaced by ${replacement.instanceIds.join(', ')}`
        : `worker-fleet ${fleet}: no capacity to replace ${instanceId}`,
    details: { correlationId: fact.correlationId, instanceId, cause: CAUSE_TEXT[fact.cause], replacement },
  });
}

/**
 * One pass: read the facts and what EC2 says exists, plan, record the requests applied (before anything launches, so
 * a retry never applies a count twice), launch the replacements and the growth, then record and tell what
 * launched. Without the state bucket (`record` given), it acts on the trigger's own facts and records nothing.
 */
async function reconcileOnce(
  deps: ReconcileDependencies,
  fleet: string,
  spec: FleetSpec,
  without?: FleetRecord,
): Promise<ReconcileOutcome> {
  const { ec2, s3, logger, config } = deps;
  const recordKey = fleetRecordKey(config.managedBy, fleet);
  const [workers, stored] = await Promise.all([
    listFleetWorkers(ec2, { managedBy: config.managedBy, instanceProfile: config.instanceProfile, fleet }),
    without === undefined ? readJson<FleetRecord>(s3, config.stateBucket, recordKey) : undefined,
  ]);
  const record = without ?? stored?.value ?? {};
  const plan = planReconcile(spec, workers, record);
  logger.info('reconcile planned', {
    fleet,
    active: plan.active,
    desired: plan.desired,
    capped: plan.capped,
    grow: plan.grow,
    replacements: plan.replacements.map((replacement) => replacement.instanceId),
    waiting: plan.waiting,
    applied: plan.applied.map((request) => request.id),
  });
  let current = record;
  const growthChanged =
    plan.growth !== undefined &&
    (plan.growth.seq !== record.growth?.seq || plan.growth.basis !== record.growth?.basis);
  if (without === undefined && (plan.applied.length > 0 || plan.satisfied.length > 0 || growthChanged)) {
    current = await recordFleetFacts(deps, fleet, (latest) => withPlanApplied(latest, plan, deps.now()));
  }

  const slot = plan.growth === undefined ? 'grow-none' : `grow-${plan.growth.seq}-${plan.growth.basis}`;
  const [replacing, growing] = await Promise.all([
    Promise.all(plan.replacements.map((replacement) => launchReplacement(deps, fleet, spec, replacement))),
    launchInstances(deps, {
      fleet,
      spec,
      count: plan.grow,
      reason: plan.desiredBy?.kind ?? 'schedule',
      triggerId: plan.desiredBy?.id ?? slot,
      slot,
    }),
  ]);

  measurePass(deps, fleet, plan, record, replacing, growing);
  const replacements = new Map<string, ReplacementResult>();
  const launchedFacts = new Map<string, Pick<ReplacementFact, 'status' | 'instanceIds' | 'launchedAt'>>();
  plan.replacements.forEach((replacement, index) => {
    const outcome = replacing[index];
    if (outcome === undefined) return;
    const result = replacementResult(outcome);
    replacements.set(replacement.instanceId, result);
    if (result.status === 'launched') {
      launchedFacts.set(replacement.instanceId, {
        status: 'launched',
        instanceIds: result.instanceIds,
        launchedAt: deps.now().toISOString(),
      });
    } else
      logger.warn('no capacity to replace, kept for the next reconciliation', {
        fleet,
        instanceId: replacement.instanceId,
      });
  });
  if (without === undefined && launchedFacts.size > 0) {
    current = await recordFleetFacts(deps, fleet, (latest) =>
      withReplacements(latest, launchedFacts, deps.now()),
    );
  }
  await tellReplacements(deps, fleet, current, replacements, without === undefined);

  const failures = [...replacing, growing].flatMap((outcome) => outcome.failures);
  if (plan.growth !== undefined && plan.growth.told !== true) {
    await tellGrowth(deps, fleet, plan, growing);
    if (without === undefined) await recordGrowthTold(deps, fleet, plan.growth);
  }
  const [failure, ...more] = failures;
  if (failure !== undefined) {
    throw more.length === 0
      ? failure
      : new AggregateError(failures, `${failures.length} launch requests failed`);
  }
  return {
    status: without === undefined ? 'reconciled' : 'without-state',
    fleet,
    active: plan.active,
    desired: plan.desired,
    capped: plan.capped,
    launched: growing.launched,
    requested: plan.grow,
    onDemandFallback: growing.onDemandFallback,
    shortfall: growing.shortfall,
    capacityErrors: growing.capacityErrors,
    replacements,
  };
}

/**
 * What one pass tells the metrics: the fleet's size (by market) and target as it found them, what it launched, and
 * each replacement tried: launched (with the time since it was requested, the warning's handling) or not.
 */
function measurePass(
  deps: ReconcileDependencies,
  fleet: string,
  plan: ReconcilePlan,
  record: FleetRecord,
  replacing: readonly LaunchOutcome[],
  growing: LaunchOutcome,
): void {
  const { metrics } = deps;
  metrics.add('WorkersRunning', plan.active, { fleet });
  metrics.add('WorkersRunning', plan.activeSpot, { fleet, market: 'spot' });
  metrics.add('WorkersRunning', plan.active - plan.activeSpot, { fleet, market: 'on-demand' });
  metrics.add('WorkersTarget', plan.desired ?? 0, { fleet });
  metrics.add('LaunchShortfall', growing.shortfall, { fleet });
  metrics.add(
    'OnDemandFallbacks',
    [growing, ...replacing].reduce((sum, outcome) => sum + outcome.onDemandFallback, 0),
    { fleet },
  );
  for (const worker of growing.launched) metrics.add('WorkersLaunched', 1, { fleet, market: worker.market });
  const now = deps.now().getTime();
  plan.replacements.forEach((replacement, index) => {
    const launched = replacing[index]?.launched ?? [];
    if (launched.length === 0) {
      metrics.add('ReplacementsFailed', 1, { fleet });
      return;
    }
    for (const worker of launched) {
      metrics.add('WorkersLaunched', 1, { fleet, market: worker.market });
      metrics.add('Replacements', 1, { fleet, market: worker.market });
    }
    const requestedAt = Date.parse(record.replacements?.[replacement.instanceId]?.at ?? '');
    if (Number.isFinite(requestedAt))
      metrics.add('ReplacementLatency', Math.max(0, now - requestedAt), { fleet });
  });
}

/**
 * Tells each replacement once: every fact launched and not yet told (this pass's, or one a failed pass launched),
 * then records it told; and each replacement this pass found no capacity for.
 */
async function tellReplacements(
  deps: ReconcileDependencies,
  fleet: string,
  record: FleetRecord,
  tried: ReadonlyMap<string, ReplacementResult>,
  recorded: boolean,
): Promise<void> {
  const told = new Map<string, Partial<Pick<ReplacementFact, 'status' | 'toldNoCapacity'>>>();
  for (const [instanceId, fact] of Object.entries(record.replacements ?? {})) {
    if (fact.status !== 'launched') continue;
    const result = tried.get(instanceId) ?? {
      status: 'launched' as const,
      instanceIds: fact.instanceIds ?? [],
      pools: [],
      onDemandFallback: 0,
    };
    await notifyReplacement(deps, fleet, instanceId, fact, result);
    told.set(instanceId, { status: 'notified' });
  }
  for (const [instanceId, result] of tried) {
    const fact = record.replacements?.[instanceId];
    // Told once: the reconcile schedule retries a replacement without capacity every minute.
    if (result.status === 'no-capacity' && fact !== undefined && fact.toldNoCapacity !== true) {
      await notifyReplacement(deps, fleet, instanceId, fact, result);
      told.set(instanceId, { toldNoCapacity: true });
    }
  }
  if (recorded && told.size > 0)
    await recordFleetFacts(deps, fleet, (latest) => withReplacements(latest, told, deps.now()));
}

/**
 * Records that a growth's outcome was told: a pass that launched nothing sees the same fleet, the same slot, and
 * does not tell it again (the reconcile schedule retries every minute through a capacity drought).
 */
async function recordGrowthTold(deps: ReconcileDependencies, fleet: string, growth: Growth): Promise<void> {
  await recordFleetFacts(deps, fleet, (latest) =>
    latest.growth?.seq === growth.seq && latest.growth.basis === growth.basis
      ? { ...latest, growth: { ...latest.growth, told: true } }
      : latest,
  );
}

async function tellGrowth(
  deps: ReconcileDependencies,
  fleet: string,
  plan: ReconcilePlan,
  outcome: LaunchOutcome,
): Promise<void> {
  const { launched } = outcome;
  await notify(deps, deps.config.topicArn, {
    kind: launched.length > 0 ? 'launch' : 'launch-failed',
    fleet,
    subject:
      launched.length > 0
        ? `worker-fleet ${fleet}: launched ${launched.length} of ${plan.grow} workers`
        : `worker-fleet ${fleet}: no capacity for ${plan.grow} workers`,
    details: {
      requests: plan.applied.map(({ id, kind }) => ({ id, kind })),
      requested: plan.grow,
      active: plan.active,
      desired: plan.desired,
      launched: launched.map(({ instanceId, instanceType, subnetId, market }) => ({
        instanceId,
        instanceType,
        subnetId,
        market,
      })),
      onDemandFallback: outcome.onDemandFallback,
      shortfall: outcome.shortfall,
      capacityErrors: outcome.capacityErrors.map(({ pool, code }) => ({ ...pool, code })),
    },
  });
}

/** Releases a lease after a failed pass; a lease that cannot be released expires (LEASE_TTL_MS). */
async function releaseAfterFailure(deps: ReconcileDependencies, lease: HeldLease): Promise<void> {
  try {
    while ((await releaseLease(deps.s3, lease, { now: deps.now(), ttlMs: LEASE_TTL_MS })) === 'again') {
      // Asked to run again while failing: the failure is thrown and retried, which reconciles anyway.
    }
  } catch (error) {
    deps.logger.warn('lease not released, it expires', { key: lease.key, error });
  }
}

/**
 * Reconciles one fleet, one invocation at a time (a lease in the state bucket): compares what its facts ask for
 * with what EC2 says exists and launches what is missing. When another invocation holds the lease, it is asked to
 * run again and this call returns `handed-off`. When the state bucket cannot be reached, `without` (the trigger's
 * own facts) is acted on without a lease: the ClientTokens derived from the fleet's slots keep concurrent passes
 * from launching twice on EC2.
 */
export async function reconcileFleet(
  deps: ReconcileDependencies,
  fleet: string,
  spec: FleetSpec,
  without: FleetRecord,
): Promise<ReconcileOutcome> {
  const { s3, config, logger, now } = deps;
  const holder = randomUUID();
  let attempt: Awaited<ReturnType<typeof acquireLease>>;
  try {
    attempt = await acquireLease(s3, config.stateBucket, fleetLeaseKey(config.managedBy, fleet), {
      holder,
      now: now(),
      ttlMs: LEASE_TTL_MS,
      handOff: true,
    });
  } catch (error) {
    if (!stateUnavailable(error)) throw error;
    logger.warn('state bucket unavailable, reconciling without the lease', { fleet, error });
    return reconcileOnce(deps, fleet, spec, without);
  }
  if (attempt.kind !== 'held') {
    logger.info('reconciliation handed off', { fleet, holder: attempt.holder });
    return {
      status: 'handed-off',
      fleet,
      active: 0,
      capped: false,
      launched: [],
      requested: 0,
      onDemandFallback: 0,
      shortfall: 0,
      capacityErrors: [],
      replacements: new Map(),
    };
  }
  const { lease } = attempt;
  const passes: ReconcileOutcome[] = [];
  try {
    do passes.push(await reconcileOnce(deps, fleet, spec));
    while ((await releaseLease(s3, lease, { now: now(), ttlMs: LEASE_TTL_MS })) === 'again');
  } catch (error) {
    await releaseAfterFailure(deps, lease);
    throw error;
  }
  return mergePasses(passes);
}

/** What several passes of one holder did, as one outcome: the first pass's view, everything launched. */
function mergePasses(passes: readonly ReconcileOutcome[]): ReconcileOutcome {
  const [first, ...rest] = passes;
  if (first === undefined) throw new Error('no reconciliation pass');
  const last = rest.at(-1) ?? first;
  const all = [first, ...rest];
  return {
    ...first,
    desired: last.desired,
    capped: all.some((pass) => pass.capped),
    launched: all.flatMap((pass) => pass.launched),
    requested: all.reduce((sum, pass) => sum + pass.requested, 0),
    onDemandFallback: all.reduce((sum, pass) => sum + pass.onDemandFallback, 0),
    shortfall: last.shortfall,
    capacityErrors: all.flatMap((pass) => pass.capacityErrors),
    replacements: new Map(all.flatMap((pass) => [...pass.replacements])),
  };
}
