import { randomUUID } from 'node:crypto';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { endedAmong, listFleetWorkers } from '../aws/ec2-workers';
import { notify } from '../aws/notification-event';
import { publishNotification } from '../aws/notify';
import type { MetricsSink } from '../model/fleet-metrics';
import type { FleetSpec } from '../model/fleet-spec';
import type { FactChange, HeldLease, LaunchIntent, ReplacementFact } from '../model/fleet-state';
import type { Notification } from '../model/notification';
import { TAG } from '../model/tags';
import { replacesTag, type Worker } from '../model/worker';
import { settleBounded } from './bounded';
import { fleetImageChange } from './fleet-image';
import {
  type CapacityError,
  type LaunchDependencies,
  launchSlot,
  prepareLaunches,
  type SlotOutcome,
} from './launch-instances';
import { copyNotification } from './notification-copy';
import { type PlannedLaunch, planReconcile, type ReconcilePlan, unlistedLaunches } from './reconcile-plan';

export interface ReconcileDependencies extends LaunchDependencies {
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly metrics: MetricsSink;
  /** The time the invocation has left (Lambda's `getRemainingTimeInMillis`); unbounded when absent. */
  readonly remainingMs?: () => number;
  /**
   * The fleet's configuration as stored now, past the container's cache: read before a pass launches anything, so a
   * container that read the configuration before a `config push` never launches above a lowered maxCapacity.
   */
  readonly currentSpec?: (fleet: string) => Promise<FleetSpec | undefined>;
}

/**
 * How long a reconciliation may hold its fleet's lease: the longest timeout of the functions that reconcile
 * (launchWorkers, 60 s) plus a margin, so an invocation Lambda kills has always stopped before the lease expires
 * (test/template asserts it against serverless.yml). One that dies holding it blocks the fleet no longer than this.
 */
export const LEASE_TTL_MS = 90_000;
/** The longest timeout among the functions that hold the lease, which LEASE_TTL_MS must exceed by LEASE_MARGIN_MS. */
export const LEASE_MARGIN_MS = 30_000;
/** A holder with less time than this left hands the rest on instead of starting another pass. */
export const PASS_BUDGET_MS = 20_000;
/**
 * A slot is started only while the invocation has this long left: one slot's calls (a token, a fenced record,
 * RunInstances, again per pool without capacity) end well within it, so Lambda never kills a holder mid-slot. The
 * slots left are the next holder's (the reconcile schedule's, within a minute).
 */
export const SLOT_BUDGET_MS = 8_000;
/** RunInstances calls one pass makes at once: a wave's launches stay inside EC2's request rates. */
export const LAUNCH_CONCURRENCY = 20;

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
  readonly status: 'reconciled' | 'handed-off';
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
  /** Slots this holder had no time left to start: the next holder launches them. */
  readonly deferred: number;
}

const onDemandFallbackOf = (spec: FleetSpec, workers: readonly Worker[]) =>
  spec.market === 'on-demand' ? 0 : workers.filter((worker) => worker.market === 'on-demand').length;

/** What became of one replaced worker: the instance launched in its place (none when no pool had capacity). */
const replacementResult = (spec: FleetSpec, launched: readonly Worker[]): ReplacementResult => ({
  status: launched.length > 0 ? 'launched' : 'no-capacity',
  instanceIds: launched.map((worker) => worker.instanceId),
  pools: launched.map(({ instanceType, subnetId, market }) => ({ instanceType, subnetId, market })),
  onDemandFallback: onDemandFallbackOf(spec, launched),
});

/** Each worker a replacement launch replaces, with the instance at its place in the answer (launch order). */
const replacedIn = (launch: PlannedLaunch, outcome: SlotOutcome) =>
  (launch.replaces ?? []).map((instanceId, index) => {
    const worker = outcome.launched[index];
    return { instanceId, launched: worker === undefined ? [] : [worker] };
  });

/** How a replacement notification names its cause. */
const CAUSE_TEXT: Readonly<Record<ReplacementFact['cause'], string>> = {
  'spot-interruption': 'spot-interruption',
  'rebalance-recommendation': 'rebalance-recommendation',
  'missed-warning': 'terminated without a warning',
  retirement: 'retirement',
};

/** The notice of a replacement launched, or of one without capacity. Pure. */
function replacementNotification(
  fleet: string,
  fact: ReplacementFact,
  replacement: ReplacementResult,
): Notification {
  return {
    kind: 'replacement',
    fleet,
    subject:
      replacement.status === 'launched'
        ? `worker-fleet ${fleet}: ${fact.instanceId} replaced by ${replacement.instanceIds.join(', ')}`
        : `worker-fleet ${fleet}: no capacity to replace ${fact.instanceId}`,
    details: {
      correlationId: fact.correlationId,
      instanceId: fact.instanceId,
      cause: CAUSE_TEXT[fact.cause],
      replacement,
    },
  };
}

/**
 * Tells each launched replacement in two recorded steps: its SNS message (recorded `published`), then its copy on the
 * bus (recorded `notified`), so that a failure or a freeze of the copy never publishes the message again. Each step
 * is recorded for all at once, under the fence. Throws the first failure, after recording what was done.
 */
async function tellReplacements(
  deps: ReconcileDependencies,
  lease: HeldLease,
  fleet: string,
  toTell: readonly { fact: ReplacementFact; result: ReplacementResult }[],
): Promise<void> {
  let failure: { error: unknown } | undefined;
  const attempt = async (step: () => Promise<unknown>) => {
    if (failure !== undefined) return false;
    try {
      await step();
      return true;
    } catch (error) {
      failure = { error };
      return false;
    }
  };
  const record = async (facts: readonly ReplacementFact[]) => {
    if (facts.length > 0)
      await deps.state.commit(
        lease,
        facts.map((fact) => ({ kind: 'replacement', fact })),
      );
  };
  const published: { fact: ReplacementFact; notification: Notification }[] = [];
  const newlyPublished: ReplacementFact[] = [];
  for (const { fact, result } of toTell) {
    const notification = replacementNotification(fleet, fact, result);
    // No capacity: told once (recorded before), on the topic and the bus at once.
    if (fact.status !== 'launched') await attempt(() => notify(deps, deps.config.topicArn, notification));
    else if (fact.published === true) published.push({ fact, notification });
    else if (await attempt(() => publishNotification(deps.sns, deps.config.topicArn, notification))) {
      const done = { ...fact, published: true };
      published.push({ fact: done, notification });
      newlyPublished.push(done);
    }
  }
  await record(newlyPublished);
  const notified: ReplacementFact[] = [];
  for (const { fact, notification } of published) {
    if (await attempt(() => copyNotification(deps, notification)))
      notified.push({ ...fact, status: 'notified' });
  }
  await record(notified);
  if (failure !== undefined) throw failure.error;
}

/** What a plan records before anything is launched: requests applied, the size, what is done or set aside. */
function planChanges(
  plan: ReconcilePlan,
  facts: Readonly<Record<string, ReplacementFact>>,
  lease: HeldLease,
  now: Date,
) {
  const changes: FactChange[] = [
    ...plan.applied.map((request): FactChange => ({ kind: 'applied', requestId: request.id })),
    ...(plan.size === undefined ? [] : [{ kind: 'size', size: plan.size } as const]),
    ...plan.done.map((slot): FactChange => ({ kind: 'intent-done', slot })),
    ...plan.rebuilt.map((fact): FactChange => ({ kind: 'replacement', fact })),
  ];
  for (const { instanceId, by } of plan.satisfied) {
    const fact = facts[instanceId];
    if (fact === undefined) continue;
    changes.push({
      kind: 'replacement',
      fact: {
        ...fact,
        status: 'launched',
        instanceIds: by,
        launchedAt: now.toISOString(),
        tellingEpoch: lease.epoch,
      },
    });
  }
  return changes;
}

/**
 * One pass under the fleet's lease: read the facts (one query) and what EC2 lists, plan, record what the plan applies
 * (before anything is launched, so a retry never applies a count twice), launch every slot (each attempt recorded
 * before it is sent), record the answers, then tell. Every record is fenced: a holder whose lease was taken over
 * records nothing and stops (FenceLostError).
 */
async function reconcileOnce(
  deps: ReconcileDependencies,
  lease: HeldLease,
  fleet: string,
  cachedSpec: FleetSpec,
): Promise<ReconcileOutcome> {
  let spec = cachedSpec;
  const { ec2, state, logger, config, now, metrics } = deps;
  // EC2 first, then the facts: a request recorded before a change EC2 now shows (the reaper lowers the size, then
  // terminates) is in the facts this pass reads, so no pass relaunches workers the reaper retired (#26).
  const workers = await listFleetWorkers(ec2, {
    managedBy: config.managedBy,
    instanceProfile: config.instanceProfile,
    fleet,
  });
  const facts = await state.readFacts(fleet, now());
  for (const key of facts.unreadable) {
    logger.error('state item unreadable, set aside and rebuilt from EC2', { fleet, key });
    metrics.add('StateItemsUnreadable', 1, { fleet });
  }
  // Launched, not listed: in flight while EC2's listing lags, unless EC2 says by id that they have already ended.
  const ended = await endedAmong(ec2, unlistedLaunches(workers, facts, now()));
  let plan = planReconcile(spec, workers, facts, now(), ended);
  if (deps.currentSpec !== undefined && plan.replacements.length + plan.growth.length > 0) {
    const current = await deps.currentSpec(fleet).catch((error: unknown) => {
      logger.warn('fleet configuration not read again before launching: the container copy is used', {
        fleet,
        error,
      });
      return undefined;
    });
    if (current !== undefined && JSON.stringify(current) !== JSON.stringify(spec)) {
      logger.info('fleet configuration changed since this container read it: planned again', {
        fleet,
        maxCapacity: current.maxCapacity,
        was: spec.maxCapacity,
      });
      spec = current;
      plan = planReconcile(spec, workers, facts, now(), ended);
    }
  }
  logger.info('reconcile planned', {
    fleet,
    epoch: lease.epoch,
    active: plan.active,
    inFlight: plan.inFlight,
    desired: plan.desired,
    capped: plan.capped,
    grow: plan.grow,
    replacements: plan.replacements.map((replacement) => replacement.replaces),
    waiting: plan.waiting,
    applied: plan.applied.map((request) => request.id),
  });
  const replacementFacts: Record<string, ReplacementFact> = { ...facts.replacements };
  for (const fact of plan.rebuilt) replacementFacts[fact.instanceId] = fact;
  const changes = [
    ...planChanges(plan, replacementFacts, lease, now()),
    ...facts.unreadable.map((key): FactChange => ({ kind: 'set-aside', key })),
    ...(await fleetImageChange(deps, fleet, spec, facts)),
  ];
  if (changes.length > 0) await state.commit(lease, changes);
  for (const change of changes) {
    if (change.kind === 'replacement') replacementFacts[change.fact.instanceId] = change.fact;
  }

  // New growth shares get slots numbered from the deployment's sequence: a refill never reuses a slot.
  const fresh = plan.growth.filter((launch) => launch.intent === undefined);
  const numbered =
    fresh.length === 0 ? undefined : await state.nextTokens(1).then(({ first }) => `grow-${first}`);
  const growth = plan.growth.map((launch) =>
    launch.intent === undefined
      ? { ...launch, slot: launch.slot.replace('grow-new', numbered ?? '') }
      : launch,
  );
  const launches: { launch: PlannedLaunch; growth: boolean }[] = [
    ...plan.replacements.map((launch) => ({ launch, growth: false })),
    ...growth.map((launch) => ({ launch, growth: true })),
  ];
  const context = launches.length === 0 ? undefined : await prepareLaunches(deps, fleet, spec);
  const reason = plan.size?.desiredBy?.kind ?? facts.size?.desiredBy?.kind ?? 'schedule';
  const triggerId = plan.size?.desiredBy?.id ?? facts.size?.desiredBy?.id;
  const settled =
    context === undefined
      ? []
      : await settleBounded(launches, LAUNCH_CONCURRENCY, async ({ launch, growth: isGrowth }) =>
          (deps.remainingMs?.() ?? Number.POSITIVE_INFINITY) < SLOT_BUDGET_MS
            ? undefined
            : launchSlot(deps, lease, {
                fleet,
                spec,
                count: launch.count,
                reason: isGrowth ? (reason === 'reap' ? 'schedule' : reason) : 'replacement',
                triggerId: isGrowth ? (triggerId ?? launch.slot) : launch.slot,
                ...(launch.replaces === undefined
                  ? {}
                  : { extraTags: { [TAG.replaces]: replacesTag(launch.replaces) } }),
                launch,
                context,
              }),
        );
  const deferred = settled.filter(
    (outcome) => outcome.status === 'fulfilled' && outcome.value === undefined,
  ).length;
  if (deferred > 0) logger.warn('out of time: slots left to the next holder', { fleet, deferred });
  const fenceLost = settled.find(
    (outcome) => outcome.status === 'rejected' && (outcome.reason as Error).name === 'FenceLostError',
  );
  if (fenceLost !== undefined && fenceLost.status === 'rejected') throw fenceLost.reason;
  const outcomes = settled.map(
    (outcome, index): { launch: PlannedLaunch; growth: boolean; outcome?: SlotOutcome; error?: unknown } =>
      outcome.status === 'fulfilled'
        ? { ...(launches[index] as { launch: PlannedLaunch; growth: boolean }), outcome: outcome.value }
        : { ...(launches[index] as { launch: PlannedLaunch; growth: boolean }), error: outcome.reason },
  );

  // Record the answers (and who tells what) before telling: a stale holder records nothing, so tells nothing.
  const answers: FactChange[] = [];
  const replacements = new Map<string, ReplacementResult>();
  const toTell: { fact: ReplacementFact; result: ReplacementResult }[] = [];
  const growthAnswers: SlotOutcome[] = [];
  for (const { launch, growth: isGrowth, outcome } of outcomes) {
    if (outcome === undefined || outcome.failure !== undefined) continue;
    let intent: LaunchIntent = outcome.intent;
    if (isGrowth) {
      const tell = intent.told !== true && (intent.status === 'answered' || intent.status === 'short');
      if (tell) {
        intent = { ...intent, told: true };
        growthAnswers.push(outcome);
      }
      answers.push({ kind: 'intent', intent });
      continue;
    }
    answers.push({ kind: 'intent', intent });
    for (const replaced of replacedIn(launch, outcome)) {
      const fact = replacementFacts[replaced.instanceId];
      if (fact === undefined) continue;
      const result = replacementResult(spec, replaced.launched);
      replacements.set(fact.instanceId, result);
      if (result.status === 'launched') {
        const launched: ReplacementFact = {
          ...fact,
          status: 'launched',
          instanceIds: result.instanceIds,
          launchedAt: now().toISOString(),
          tellingEpoch: lease.epoch,
        };
        replacementFacts[fact.instanceId] = launched;
        answers.push({ kind: 'replacement', fact: launched });
      } else {
        logger.warn('no capacity to replace, kept for the next reconciliation', {
          fleet,
          instanceId: fact.instanceId,
        });
        if (fact.toldNoCapacity !== true) {
          const told: ReplacementFact = { ...fact, toldNoCapacity: true };
          replacementFacts[fact.instanceId] = told;
          answers.push({ kind: 'replacement', fact: told });
          toTell.push({ fact: told, result });
        }
      }
    }
  }
  // Launched replacements a holder recorded and did not tell (it died, or this pass found them running).
  for (const fact of Object.values(replacementFacts)) {
    if (fact.status !== 'launched') continue;
    if (fact.tellingEpoch !== lease.epoch) {
      const mine = { ...fact, tellingEpoch: lease.epoch };
      replacementFacts[fact.instanceId] = mine;
      answers.push({ kind: 'replacement', fact: mine });
    }
    toTell.push({
      fact: replacementFacts[fact.instanceId] as ReplacementFact,
      result: replacements.get(fact.instanceId) ?? {
        status: 'launched',
        instanceIds: fact.instanceIds ?? [],
        pools: [],
        onDemandFallback: 0,
      },
    });
  }
  if (answers.length > 0) await state.commit(lease, answers);

  const launchedHere = outcomes.flatMap(({ outcome }) => outcome?.launched ?? []);
  await bookkeep(
    deps,
    fleet,
    launchedHere,
    outcomes.flatMap(({ outcome }) => outcome?.capacityErrors ?? []),
  );
  const growthAnswered = outcomes
    .filter(({ growth: isGrowth }) => isGrowth)
    .flatMap(({ outcome }) => outcome?.launched ?? []);
  // A re-sent attempt is answered with the instances an earlier pass launched: already listed, not launched here.
  const listed = new Set(workers.map((worker) => worker.instanceId));
  const growthLaunched = growthAnswered.filter((worker) => !listed.has(worker.instanceId));
  const growthErrors = outcomes
    .filter(({ growth: isGrowth }) => isGrowth)
    .flatMap(({ outcome }) => outcome?.capacityErrors ?? []);
  const shortfall = Math.max(0, plan.grow - growthAnswered.length);
  measurePass(deps, fleet, plan, spec, outcomes, replacementFacts, growthLaunched, shortfall);

  await tellReplacements(deps, lease, fleet, toTell);
  if (growthAnswers.length > 0) await tellGrowth(deps, fleet, plan, growthLaunched, growthErrors, shortfall);

  const failures = outcomes.flatMap(({ outcome, error }) =>
    error !== undefined ? [error] : outcome?.failure !== undefined ? [outcome.failure] : [],
  );
  const [failure, ...more] = failures;
  if (failure !== undefined) {
    throw more.length === 0
      ? failure
      : new AggregateError(failures, `${failures.length} launch requests failed`);
  }
  return {
    status: 'reconciled',
    fleet,
    active: plan.active + plan.inFlight,
    desired: plan.desired,
    capped: plan.capped,
    launched: growthLaunched,
    requested: plan.grow,
    onDemandFallback: onDemandFallbackOf(spec, growthLaunched),
    shortfall,
    capacityErrors: growthErrors,
    replacements,
    deferred,
  };
}

/**
 * After the answers are recorded: the launched workers in the registry (what a warning's notification reads) and
 * the capacity errors in pool memory. Both are advice; their failure is logged and never undoes a launch.
 */
async function bookkeep(
  deps: ReconcileDependencies,
  fleet: string,
  launched: readonly Worker[],
  capacityErrors: readonly CapacityError[],
): Promise<void> {
  const { state, logger, now } = deps;
  const at = now().toISOString();
  const [unregistered] = await Promise.all([
    state
      .registerWorkers(
        launched.map((worker) => ({
          instanceId: worker.instanceId,
          fleet,
          instanceType: worker.instanceType,
          availabilityZone: worker.availabilityZone,
          subnetId: worker.subnetId,
          market: worker.market,
          launchedAt: at,
        })),
      )
      .catch(() => launched.map((worker) => worker.instanceId)),
    state
      .recordPoolEvents(
        capacityErrors
          .filter(({ pool }) => pool.market === 'spot')
          .map(({ pool }) => ({ pool, kind: 'capacity-error', id: randomUUID(), at })),
        now(),
      )
      .catch((error: unknown) => {
        logger.warn('capacity errors not remembered in pool memory', { fleet, error });
      }),
  ]);
  if (unregistered.length > 0) {
    logger.warn('workers not recorded in the registry: their warnings go through EC2 first', {
      fleet,
      instanceIds: unregistered,
    });
  }
}

/**
 * What one pass tells the metrics: the fleet's size (by market) and target as it found them, what it launched, and
 * each replacement tried: launched (with the time since it was requested, the warning's handling) or not.
 */
function measurePass(
  deps: ReconcileDependencies,
  fleet: string,
  plan: ReconcilePlan,
  spec: FleetSpec,
  outcomes: readonly { launch: PlannedLaunch; growth: boolean; outcome?: SlotOutcome }[],
  facts: Readonly<Record<string, ReplacementFact>>,
  growthLaunched: readonly Worker[],
  shortfall: number,
): void {
  const { metrics } = deps;
  metrics.add('WorkersRunning', plan.active, { fleet });
  metrics.add('WorkersRunning', plan.activeSpot, { fleet, market: 'spot' });
  metrics.add('WorkersRunning', plan.active - plan.activeSpot, { fleet, market: 'on-demand' });
  metrics.add('WorkersTarget', plan.desired ?? 0, { fleet });
  // What the below-target alarm watches, one query over every fleet (config/observability.cjs).
  metrics.add('WorkersShort', Math.max(0, (plan.desired ?? 0) - plan.active), { fleet });
  metrics.add('LaunchShortfall', shortfall, { fleet });
  const launchedAll = outcomes.flatMap(({ outcome }) => outcome?.launched ?? []);
  metrics.add('OnDemandFallbacks', onDemandFallbackOf(spec, launchedAll), { fleet });
  for (const worker of growthLaunched) metrics.add('WorkersLaunched', 1, { fleet, market: worker.market });
  const now = deps.now().getTime();
  for (const { launch, growth, outcome } of outcomes) {
    if (growth || outcome === undefined || outcome.failure !== undefined) continue;
    for (const replaced of replacedIn(launch, outcome)) {
      const [worker] = replaced.launched;
      if (worker === undefined) {
        metrics.add('ReplacementsFailed', 1, { fleet });
        continue;
      }
      metrics.add('WorkersLaunched', 1, { fleet, market: worker.market });
      metrics.add('Replacements', 1, { fleet, market: worker.market });
      const requestedAt = Date.parse(facts[replaced.instanceId]?.at ?? '');
      if (Number.isFinite(requestedAt))
        metrics.add('ReplacementLatency', Math.max(0, now - requestedAt), { fleet });
    }
  }
}

async function tellGrowth(
  deps: ReconcileDependencies,
  fleet: string,
  plan: ReconcilePlan,
  launched: readonly Worker[],
  capacityErrors: readonly CapacityError[],
  shortfall: number,
): Promise<void> {
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
      onDemandFallback: launched.filter((worker) => worker.market === 'on-demand').length,
      shortfall,
      capacityErrors: capacityErrors.map(({ pool, code }) => ({ ...pool, code })),
    },
  });
}

const handedOff = (fleet: string): ReconcileOutcome => ({
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
  deferred: 0,
});

/**
 * Reconciles one fleet, one holder at a time (its fenced lease): compares what its facts ask for with what EC2 lists
 * and what is in flight, and launches what is missing. When another invocation holds the lease, it is asked to run
 * again and this call returns `handed-off`. The holder runs again while asked, as long as its invocation has
 * PASS_BUDGET_MS left; then it gives the lease back with the request kept, for the next trigger (the reconcile
 * schedule runs every minute). A holder whose lease was taken over mid-pass stops, records nothing more and returns
 * `handed-off` too: the holder that took it over does the work.
 */
export async function reconcileFleet(
  deps: ReconcileDependencies,
  fleet: string,
  spec: FleetSpec,
): Promise<ReconcileOutcome> {
  const { state, logger, now } = deps;
  const attempt = await state.takeLease(fleet, 'reconcile', {
    holder: randomUUID(),
    now: now(),
    ttlMs: LEASE_TTL_MS,
    handOff: true,
  });
  if (attempt.kind !== 'held') {
    logger.info('reconciliation handed off', { fleet, holder: attempt.holder });
    return handedOff(fleet);
  }
  const { lease } = attempt;
  const passes: ReconcileOutcome[] = [];
  try {
    for (;;) {
      const pass = await reconcileOnce(deps, lease, fleet, spec);
      passes.push(pass);
      const outOfTime =
        pass.deferred > 0 || (deps.remainingMs?.() ?? Number.POSITIVE_INFINITY) < PASS_BUDGET_MS;
      const released = await state.releaseLease(lease, {
        now: now(),
        ttlMs: LEASE_TTL_MS,
        keepPending: outOfTime,
      });
      if (released !== 'again') {
        if (outOfTime) logger.warn('out of time, the next run is handed on', { fleet, epoch: lease.epoch });
        break;
      }
    }
  } catch (error) {
    if ((error as Error).name !== 'FenceLostError') {
      await state
        .releaseLease(lease, { now: now(), ttlMs: LEASE_TTL_MS, keepPending: true })
        .catch((failure: unknown) => {
          logger.warn('lease not released, it expires', { fleet, error: failure });
        });
      throw error;
    }
    // The lease expired under this pass (a stall) and another holder took it: that holder read every fact recorded
    // before it took the lease, this trigger's included, and re-sends what this pass recorded. Its work, not a failure.
    logger.warn('lease taken over: this pass stopped, nothing more recorded or done', {
      fleet,
      epoch: lease.epoch,
    });
    return handedOff(fleet);
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
    deferred: last.deferred,
  };
}
