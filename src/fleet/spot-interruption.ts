import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { putWorkerDraining } from '../aws/draining-event';
import { describeWorker, tagWorkers } from '../aws/ec2-workers';
import { notify, putNotificationEvent } from '../aws/notification-event';
import type { Config } from '../config';
import type { InstanceEvent } from '../events/instance';
import { assertNever } from '../events/parse';
import type { FleetSpec } from '../model/fleet-spec';
import type { ReplacementCause, ReplacementFact } from '../model/fleet-state';
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
  takeClaim,
  type WarningNotice,
  warningDeadline,
} from './interruption-notice';
import { type ReconcileDependencies, type ReplacementResult, reconcileFleet } from './reconcile-fleet';
import { recordPoolEvents } from './record-pool-events';

export interface InterruptionDependencies extends ReconcileDependencies {
  readonly events: EventBridgeClient;
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
 * The fleet a worker belongs to, or undefined when it is not a worker of this deployment's configured fleets
 * (isOwnedBy: its tag and, unless it has ended, the worker instance profile).
 */
export function fleetOf(
  worker: Worker | undefined,
  config: Config,
): { fleet: string; spec: FleetSpec } | undefined {
  if (worker === undefined || !isOwnedBy(worker, config)) return undefined;
  const fleet = worker.tags[TAG.fleet];
  const spec = fleet !== undefined && Object.hasOwn(config.fleets, fleet) ? config.fleets[fleet] : undefined;
  return fleet === undefined || spec === undefined ? undefined : { fleet, spec };
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
 * The once-only steps of a claimed event's delivery. What is done is recorded as each step finishes: it is what a
 * failed delivery leaves the claim open with (interruption-notice.ts). A delivery that does not hold the claim starts
 * with everything done, so it notifies and marks nothing.
 */
function claimedSteps(claimed: boolean, progress: ClaimProgress) {
  const done: { -readonly [K in keyof ClaimProgress]: boolean } = claimed ? { ...progress } : { ...ALL_DONE };
  return {
    /** What is done so far. */
    done,
    async run(step: keyof ClaimProgress, act: () => Promise<unknown>): Promise<void> {
      if (done[step]) return;
      await act();
      done[step] = true;
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
  const steps = claimedSteps(claimed, noticed.value);
  // The warning goes on the bus once its SNS message is out, beside the rest of the work, and is waited for before
  // this delivery ends. One the first step published is not put again by a retry (the claim says it is notified).
  let announcing = announce(deps, noticed.value.published);
  try {
    if (described.status === 'rejected') throw described.reason;
    const worker = described.value;
    const owner = fleetOf(worker, config);
    if (worker === undefined || owner === undefined) {
      // Told already, from the registry: its event too, before the claim is given back.
      await announcing;
      if (claimed) await state.releaseClaim('warning', instanceId);
      if (claimed && noticed.value.notified)
        logger.warn('notified from the registry, but EC2 does not know the instance as a worker', {
          instanceId,
        });
      return notOurs(deps, instanceId, worker);
    }
    await steps.run('notified', async () => {
      announcing = announce(deps, await publishWarning(deps, event, worker, owner.fleet));
    });
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
    const replacement = await markAndReplace(deps, worker, owner, draining, 'interruption', steps);
    await announcing;
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
    await announcing.catch(() => undefined);
    if (claimed) await settleClaim(deps, 'warning', event, 'open', steps.done);
    throw error;
  }
}

/** Puts a notification already on the topic on the bus too; nothing when there is none. Never unhandled. */
function announce(deps: InterruptionDependencies, published: Notification | undefined): Promise<void> {
  if (published === undefined) return Promise.resolve();
  const putting = putNotificationEvent(deps.events, published);
  putting.catch(() => undefined);
  return putting;
}

async function onRebalance(
  deps: InterruptionDependencies,
  event: Extract<InstanceEvent, { kind: 'rebalance' }>,
): Promise<InterruptionResult> {
  const { ec2, config, logger } = deps;
  const { instanceId } = event;
  const worker = await describeWorker(ec2, instanceId);
  const owner = fleetOf(worker, config);
  if (worker === undefined || owner === undefined) return notOurs(deps, instanceId, worker);
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
  const steps = claimedSteps(true, progress);
  try {
    await steps.run('notified', () =>
      notify(deps, config.topicArn, {
        kind: 'rebalance-recommendation',
        fleet: owner.fleet,
        subject: `worker-fleet ${owner.fleet}: rebalance recommendation for ${instanceId} (${mode})`,
        details: { ...noticeOf(worker, owner.fleet), action: mode, correlationId: event.id },
      }),
    );
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
  const owner = fleetOf(worker, deps.config);
  if (worker === undefined || owner === undefined) return notOurs(deps, instanceId, worker);
  const observed = (reason: string): InterruptionResult => {
    logger.info('worker ended, no replacement', { fleet: owner.fleet, instanceId, state, reason });
    return { status: 'observed', instanceId, fleet: owner.fleet, reason };
  };
  if (worker.market !== 'spot') return observed('on-demand workers are never interrupted');
  if (TAG.idleSince in worker.tags) return observed('retired by the idle reaper');
  if (worker.stateReason === USER_INITIATED)
    return observed('terminated by a person (Client.UserInitiatedShutdown)');

  // A spot worker EC2 reclaimed. If its warning was missed, nothing asked for its replacement yet: ask now, once.
  const { result, recorded } = await requestReplacement(deps, worker, owner, {
    cause: 'missed-warning',
    correlationId: event.id,
  });
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

function notOurs(
  deps: InterruptionDependencies,
  instanceId: string,
  worker: Worker | undefined,
): InterruptionResult {
  const reason =
    worker === undefined
      ? 'instance not found'
      : `not a worker of ${deps.config.managedBy}'s configured fleets`;
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
