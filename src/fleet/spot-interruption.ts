import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { putWorkerDraining } from '../aws/draining-event';
import { describeWorker, tagWorkers } from '../aws/ec2-workers';
import { publishNotification } from '../aws/notify';
import type { Config } from '../config';
import type { InstanceEvent } from '../events/instance';
import { assertNever } from '../events/parse';
import { NO_FLEET } from '../model/fleet-metrics';
import type { FleetSpec } from '../model/fleet-spec';
import type { ClaimKind, ReplacementCause, ReplacementFact } from '../model/fleet-state';
import type { Notification, WorkerDraining } from '../model/notification';
import type { PoolEventKind } from '../model/pool';
import { TAG } from '../model/tags';
import { isOwnedBy, USER_INITIATED, type Worker } from '../model/worker';
import {
  ALL_DONE,
  type ClaimProgress,
  noticeOf,
  noticeSpotWarning,
  otherRegion,
  publishWarning,
  settleClaim,
  staleness,
  standingOf,
  takeClaim,
  type WarningNotice,
  warningDeadline,
  warningNotification,
} from './interruption-notice';
import { copyNotification } from './notification-copy';
import { type ReconcileDependencies, type ReplacementResult, reconcileFleet } from './reconcile-fleet';
import { recordPoolEvents } from './record-pool-events';

export interface InterruptionDependencies extends ReconcileDependencies {
  readonly events: EventBridgeClient;
  /** Why this container has no fleet configuration: warnings are still notified and marked, the rest fails with it. */
  readonly configurationError?: Error;
}

/** What this delivery did: `replaced` only if it launched the replacement, `notified` if it only told and marked. */
export interface InterruptionResult {
  readonly status:
    | 'stale'
    | 'other-region'
    | 'not-ours'
    | 'duplicate'
    | 'ignored'
    | 'notified'
    | 'replaced'
    | 'observed';
  readonly instanceId: string;
  readonly fleet?: string;
  readonly reason?: string;
  readonly replacement?: ReplacementResult;
}

/**
 * The fleet a worker belongs to, with its spec when the fleet is configured (none for an orphan, a worker of a fleet
 * no longer configured); undefined when it is not a worker of this deployment (isOwnedBy: its managed-by tag and,
 * unless it has ended, the worker instance profile; and a fleet tag). Tags are set at launch by the launcher, and a
 * worker cannot tag (its role has no ec2:CreateTags): nothing a worker writes makes an instance ours.
 */
export function fleetOf(
  worker: Worker | undefined,
  config: Config,
): { fleet: string; spec?: FleetSpec } | undefined {
  if (worker === undefined || !isOwnedBy(worker, config)) return undefined;
  const fleet = worker.tags[TAG.fleet];
  if (fleet === undefined) return undefined;
  return Object.hasOwn(config.fleets, fleet) ? { fleet, spec: config.fleets[fleet] } : { fleet };
}

/** Waits for every promise, then throws the first failure: no started work is abandoned mid-flight. */
async function settleAll(work: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/**
 * Marks a worker as going: its tags, Worker Draining for the user's systems, and its pool's memory; each step once,
 * as the claim records it (a retry does only what a failed delivery left undone).
 */
async function markDraining(
  deps: InterruptionDependencies,
  worker: Worker,
  draining: WorkerDraining,
  poolEvent: PoolEventKind,
  steps: ClaimedSteps,
): Promise<void> {
  const { ec2, events, now, logger } = deps;
  await settleAll([
    steps.run('tagged', () =>
      tagWorkers(ec2, [worker.instanceId], {
        [TAG.interruptedAt]: now().toISOString(),
        [TAG.interruption]: draining.action,
      }),
    ),
    steps.run('announced', () => putWorkerDraining(events, draining)),
    steps.run('counted', () => countInPool(deps, worker, draining.fleet, poolEvent)),
  ]);
  logger.info('worker marked draining', { ...draining });
}

/**
 * Counts a spot worker's event in its pool's memory and, for an interruption, in the Interruptions metric: once per
 * instance, whichever of its warning and its `terminated` event comes first. Pool memory is advice: a write that
 * fails is logged and never fails the delivery (the two-minute window is worth more than one event's weight); the
 * metric then counts it, as it cannot tell.
 */
async function countInPool(
  deps: InterruptionDependencies,
  worker: Worker,
  fleet: string,
  kind: PoolEventKind,
): Promise<void> {
  if (worker.market !== 'spot') return;
  let anew = true;
  try {
    anew =
      (await recordPoolEvents(deps.state, [{ pool: worker, kind, id: worker.instanceId }], deps.now())) > 0;
  } catch (error) {
    deps.logger.warn('pool event not remembered', { fleet, instanceId: worker.instanceId, kind, error });
  }
  if (anew && kind === 'interruption') deps.metrics.add('Interruptions', 1, { fleet });
}

const nothingLaunched = (status: ReplacementResult['status']): ReplacementResult => ({
  status,
  instanceIds: [],
  pools: [],
  onDemandFallback: 0,
});

/**
 * Records that a worker needs a replacement (once: a fact of its fleet) and reconciles the fleet, which launches it
 * away from the worker's pool, here or in the invocation already reconciling the fleet (one item per worker: a
 * wave's deliveries never contend). Resolves to what this call's reconciliation did for the worker.
 */
async function requestReplacement(
  deps: InterruptionDependencies,
  worker: Worker,
  owner: { fleet: string; spec: FleetSpec },
  why: { cause: ReplacementCause; correlationId: string },
): Promise<{ result: ReplacementResult; recorded: boolean }> {
  const { instanceId } = worker;
  const fact: ReplacementFact = {
    instanceId,
    ...why,
    pool: { instanceType: worker.instanceType, subnetId: worker.subnetId },
    at: deps.now().toISOString(),
    status: 'pending',
  };
  const recorded = await deps.state.addReplacement(owner.fleet, fact);
  const outcome = await reconcileFleet(deps, owner.fleet, owner.spec);
  const result =
    outcome.replacements.get(instanceId) ??
    nothingLaunched(outcome.status === 'handed-off' ? 'handed-off' : 'already-replaced');
  return { result, recorded };
}

/** Marks the worker draining (what the claim's steps have not) while its one replacement is requested. */
async function markAndReplace(
  deps: InterruptionDependencies,
  worker: Worker,
  owner: { fleet: string; spec: FleetSpec },
  draining: WorkerDraining,
  poolEvent: PoolEventKind,
  steps: ClaimedSteps,
): Promise<ReplacementResult> {
  const marking = markDraining(deps, worker, draining, poolEvent, steps);
  const replacing = requestReplacement(deps, worker, owner, {
    cause: draining.reason,
    correlationId: draining.correlationId,
  });
  await settleAll([marking, replacing]);
  return (await replacing).result;
}

type ClaimedSteps = ReturnType<typeof claimedSteps>;

/**
 * The once-only steps of a claimed event's delivery. Each step is recorded on the claim as it finishes, so a delivery
 * that dies (a Lambda timeout) leaves what it did, and the retry that takes the claim over repeats none of it; what
 * is done is also what a failed delivery leaves the claim open with (interruption-notice.ts). A record that fails is
 * logged: that step's progress is then written when the delivery settles. A delivery that does not hold the claim
 * starts with everything done, so it notifies and marks nothing.
 */
function claimedSteps(
  deps: Pick<InterruptionDependencies, 'state' | 'logger'>,
  claim: { readonly kind: ClaimKind; readonly event: InstanceEvent },
  claimed: boolean,
  progress: ClaimProgress,
) {
  const done: { -readonly [K in keyof ClaimProgress]: boolean } = claimed ? { ...progress } : { ...ALL_DONE };
  /** Records a finished step on the claim. */
  const record = async (step: keyof ClaimProgress) => {
    const { instanceId, id } = claim.event;
    await deps.state.recordClaimStep(claim.kind, instanceId, id, step).catch((error: unknown) => {
      deps.logger.warn(`${claim.kind} step not recorded, it is when the delivery settles`, {
        instanceId,
        step,
        error,
      });
    });
  };
  return {
    /** What is done so far. */
    done,
    record,
    async run(step: keyof ClaimProgress, act: () => Promise<unknown>): Promise<void> {
      if (done[step]) return;
      await act();
      done[step] = true;
      await record(step);
    },
  };
}

/**
 * Notify, mark, replace. When the registry knows the worker, the notification goes out from it while EC2 is asked
 * about the instance (`notice`: the first step, run here, or already by the handler before it loaded EC2); else as
 * soon as EC2 has said the instance is ours. A delivery that fails leaves the warning open with what it did, and
 * the retry does the rest.
 */
async function onSpotWarning(
  deps: InterruptionDependencies,
  event: Extract<InstanceEvent, { kind: 'spot-warning' }>,
  notice?: Promise<WarningNotice>,
): Promise<InterruptionResult> {
  const { ec2, state, config, logger } = deps;
  const { instanceId } = event;
  // Both run to the end: a notification under way goes out even when EC2 fails to answer.
  const [described, noticed] = await Promise.allSettled([
    describeWorker(ec2, instanceId),
    notice ?? noticeSpotWarning(deps, event),
  ]);
  // A notice step that failed after it took the claim has left it open already.
  if (noticed.status === 'rejected') throw noticed.reason;
  const { claimed } = noticed.value;
  const steps = claimedSteps(deps, { kind: 'warning', event }, claimed, noticed.value);
  // Published by the notice step, from the registry: recorded beside the rest of the work.
  const noticeRecorded =
    claimed && noticed.value.published !== undefined ? steps.record('notified') : Promise.resolve();
  // The copy goes on the bus once the SNS message is out, beside the rest of the work, and is waited for before this
  // delivery ends. It is a step of its own: a retry puts a copy that failed, and never publishes the message again.
  let copying: Promise<void> | undefined;
  const copy = (notification: Notification) => {
    copying ??= steps.run('copied', () => copyNotification(deps, notification));
    copying.catch(() => undefined);
  };
  const copied = async () => {
    await noticeRecorded;
    await (copying ?? Promise.resolve());
  };
  if (noticed.value.published !== undefined) copy(noticed.value.published);
  try {
    if (described.status === 'rejected') throw described.reason;
    const worker = described.value;
    const owner = fleetOf(worker, config);
    if (worker === undefined || owner === undefined) {
      // Told already, from the registry: its copy too, before the claim is given back.
      await copied();
      if (claimed) await state.releaseClaim('warning', instanceId);
      if (claimed && noticed.value.notified)
        logger.warn('notified from the registry, but EC2 does not know the instance as a worker', {
          instanceId,
        });
      return notOurs(deps, instanceId, worker);
    }
    await steps.run('notified', async () => {
      copy(await publishWarning(deps, event, worker, owner.fleet));
    });
    // Published by a delivery that failed before its copy: the copy is what is left.
    copy(warningNotification(event, worker, owner.fleet, standingOf(deps, owner.fleet)));
    if (!claimed)
      logger.info('warning already handled, checking the replacement', { fleet: owner.fleet, instanceId });

    const draining: WorkerDraining = {
      instanceId,
      fleet: owner.fleet,
      reason: 'spot-interruption',
      action: event.action,
      deadline: warningDeadline(event).toISOString(),
      correlationId: event.id,
    };
    const { spec } = owner;
    if (spec === undefined) {
      // Ours, of no fleet this container knows: told and marked, never replaced here.
      await settleAll([markDraining(deps, worker, draining, 'interruption', steps), copied()]);
      if (deps.configurationError !== undefined) throw deps.configurationError;
      if (claimed) await settleClaim(deps, 'warning', event, 'done', steps.done);
      const reason = `orphan: fleet ${owner.fleet} is no longer configured, nothing replaces it`;
      logger.warn('orphan worker warned, not replaced', { fleet: owner.fleet, instanceId, reason });
      return { status: claimed ? 'notified' : 'duplicate', instanceId, fleet: owner.fleet, reason };
    }
    const replacement = await markAndReplace(
      deps,
      worker,
      { fleet: owner.fleet, spec },
      draining,
      'interruption',
      steps,
    );
    await copied();
    if (claimed) {
      await settleClaim(deps, 'warning', event, 'done', steps.done);
    }
    const launchedHere = replacement.status === 'launched' || replacement.status === 'no-capacity';
    return {
      status: launchedHere ? 'replaced' : claimed ? 'notified' : 'duplicate',
      instanceId,
      fleet: owner.fleet,
      replacement,
    };
  } catch (error) {
    await copied().catch(() => undefined);
    if (claimed) await settleClaim(deps, 'warning', event, 'open', steps.done);
    throw error;
  }
}

async function onRebalance(
  deps: InterruptionDependencies,
  event: Extract<InstanceEvent, { kind: 'rebalance' }>,
): Promise<InterruptionResult> {
  const { ec2, config, logger } = deps;
  const { instanceId } = event;
  const worker = await describeWorker(ec2, instanceId);
  const found = fleetOf(worker, config);
  if (worker === undefined || found === undefined) return notOurs(deps, instanceId, worker);
  if (found.spec === undefined) return orphanIgnored(deps, instanceId, found.fleet);
  const owner = { fleet: found.fleet, spec: found.spec };
  const mode = owner.spec.rebalance;
  if (mode === 'ignore') {
    logger.info('rebalance recommendation ignored', { fleet: owner.fleet, instanceId, mode });
    return {
      status: 'ignored',
      instanceId,
      fleet: owner.fleet,
      reason: 'fleet ignores rebalance recommendations',
    };
  }
  const progress = await takeClaim(deps, 'rebalance', event);
  if (progress === undefined) {
    logger.info('rebalance recommendation already handled', { fleet: owner.fleet, instanceId });
    return { status: 'duplicate', instanceId, fleet: owner.fleet };
  }
  const steps = claimedSteps(deps, { kind: 'rebalance', event }, true, progress);
  try {
    const notification: Notification = {
      kind: 'rebalance-recommendation',
      fleet: owner.fleet,
      subject: `worker-fleet ${owner.fleet}: rebalance recommendation for ${instanceId} (${mode})`,
      details: { ...noticeOf(worker, owner.fleet), action: mode, correlationId: event.id },
    };
    await steps.run('notified', () => publishNotification(deps.sns, config.topicArn, notification));
    await steps.run('copied', () => copyNotification(deps, notification));
    if (mode === 'notify') {
      await steps.run('counted', () => countInPool(deps, worker, owner.fleet, 'rebalance'));
      await settleClaim(deps, 'rebalance', event, 'done', steps.done);
      deps.metrics.add('RebalanceRecommendations', 1, { fleet: owner.fleet });
      logger.info('rebalance recommendation notified', { fleet: owner.fleet, instanceId });
      return { status: 'notified', instanceId, fleet: owner.fleet };
    }
    const draining: WorkerDraining = {
      instanceId,
      fleet: owner.fleet,
      reason: 'rebalance-recommendation',
      action: 'rebalance',
      correlationId: event.id,
    };
    const replacement = await markAndReplace(deps, worker, owner, draining, 'rebalance', steps);
    await settleClaim(deps, 'rebalance', event, 'done', steps.done);
    deps.metrics.add('RebalanceRecommendations', 1, { fleet: owner.fleet });
    return { status: 'replaced', instanceId, fleet: owner.fleet, replacement };
  } catch (error) {
    await settleClaim(deps, 'rebalance', event, 'open', steps.done);
    throw error;
  }
}

async function onStateChange(
  deps: InterruptionDependencies,
  event: Extract<InstanceEvent, { kind: 'state-change' }>,
): Promise<InterruptionResult> {
  const { ec2, logger } = deps;
  const { instanceId, state } = event;
  if (state === 'stopping' || state === 'stopped') {
    logger.info('worker stopping', { instanceId, state });
    return { status: 'observed', instanceId, reason: `instance ${state}` };
  }
  const worker = await describeWorker(ec2, instanceId);
  const found = fleetOf(worker, deps.config);
  if (worker === undefined || found === undefined) return notOurs(deps, instanceId, worker);
  const { spec } = found;
  const owner = { fleet: found.fleet };
  const observed = (reason: string): InterruptionResult => {
    logger.info('worker ended, no replacement', { fleet: owner.fleet, instanceId, state, reason });
    return { status: 'observed', instanceId, fleet: owner.fleet, reason };
  };
  if (worker.market !== 'spot') return observed('on-demand workers are never interrupted');
  if (TAG.idleSince in worker.tags) return observed('retired by the idle reaper');
  if (worker.stateReason === USER_INITIATED)
    return observed('terminated by a person (Client.UserInitiatedShutdown)');
  if (spec === undefined) return observed(`orphan: fleet ${owner.fleet} is no longer configured`);

  // A spot worker EC2 reclaimed. If its warning was missed, nothing asked for its replacement yet: ask now, once.
  const { result, recorded } = await requestReplacement(
    deps,
    worker,
    { ...owner, spec },
    {
      cause: 'missed-warning',
      correlationId: event.id,
    },
  );
  if (recorded) {
    logger.warn('spot worker ended without a handled warning, replacement requested', {
      fleet: owner.fleet,
      instanceId,
      state,
      reason: worker.stateReason,
    });
  }
  await countInPool(deps, worker, owner.fleet, 'interruption');
  const launchedHere = result.status === 'launched' || result.status === 'no-capacity';
  return launchedHere
    ? { status: 'replaced', instanceId, fleet: owner.fleet, replacement: result }
    : { status: 'duplicate', instanceId, fleet: owner.fleet, replacement: result };
}

/** A rebalance recommendation for a worker of a fleet no longer configured: no mode to follow, nothing to replace. */
function orphanIgnored(
  deps: InterruptionDependencies,
  instanceId: string,
  fleet: string,
): InterruptionResult {
  const reason = `orphan: fleet ${fleet} is no longer configured`;
  deps.logger.info('rebalance recommendation ignored', { fleet, instanceId, reason });
  return { status: 'ignored', instanceId, fleet, reason };
}

function notOurs(
  deps: InterruptionDependencies,
  instanceId: string,
  worker: Worker | undefined,
): InterruptionResult {
  const reason =
    worker === undefined
      ? 'instance not found'
      : `not a worker of ${deps.config.managedBy}: no managed-by tag of its own, worker instance profile or fleet tag`;
  deps.logger.warn('not a fleet worker, nothing done', { instanceId, reason });
  return { status: 'not-ours', instanceId, reason };
}

/**
 * Reacts to a spot interruption warning, a rebalance recommendation or a state change of a worker: notify first,
 * mark the worker, and replace it once, in another pool. Events for instances that are not this deployment's
 * workers, and stale events, change nothing.
 */
export async function handleInstanceEvent(
  deps: InterruptionDependencies,
  event: InstanceEvent,
  /** A spot warning's first step, when the caller has already run it (see interruption-notice.ts). */
  notice?: Promise<WarningNotice>,
): Promise<InterruptionResult> {
  const elsewhere = otherRegion(event, deps.config.region);
  if (elsewhere !== undefined) {
    deps.logger.warn('event of another region, nothing done', {
      instanceId: event.instanceId,
      reason: elsewhere,
    });
    return { status: 'other-region', instanceId: event.instanceId, reason: elsewhere };
  }
  const stale = staleness(event, deps.now());
  if (stale !== undefined) {
    deps.logger.warn('stale event dropped', {
      instanceId: event.instanceId,
      eventId: event.id,
      reason: stale,
    });
    return { status: 'stale', instanceId: event.instanceId, reason: stale };
  }
  if (deps.configurationError !== undefined) {
    deps.metrics.add('ConfigurationUnreadable', 1, { fleet: NO_FLEET });
    deps.logger.error(
      'fleet configuration unreadable: a warning is notified and marked, everything else fails',
      {
        instanceId: event.instanceId,
        kind: event.kind,
        error: deps.configurationError,
      },
    );
    if (event.kind !== 'spot-warning') throw deps.configurationError;
  }
  switch (event.kind) {
    case 'spot-warning':
      return onSpotWarning(deps, event, notice);
    case 'rebalance':
      return onRebalance(deps, event);
    case 'state-change':
      return onStateChange(deps, event);
    default:
      return assertNever(event);
  }
}
