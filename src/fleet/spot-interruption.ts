import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { putWorkerDraining } from '../aws/draining-event';
import { describeWorker, listWorkersTagged, tagWorkers } from '../aws/ec2-workers';
import { publishNotification } from '../aws/notify';
import { claimOnce, readJson, releaseClaim, replaceIfUnchanged, writeState } from '../aws/state-store';
import type { Config } from '../config';
import type { InstanceEvent } from '../events/instance';
import { assertNever } from '../events/parse';
import type { FleetSpec } from '../model/fleet-spec';
import type { WorkerDraining } from '../model/notification';
import type { PoolEventKind } from '../model/pool';
import { placementKey } from '../model/pool';
import { TAG } from '../model/tags';
import { isOwnedBy, type Worker } from '../model/worker';
import {
  type ClaimProgress,
  claimKey,
  noticeOf,
  noticeSpotWarning,
  publishWarning,
  reopenClaim,
  staleness,
  takeClaim,
  WARNING_NOTICE_MS,
  type WarningNotice,
} from './interruption-notice';
import { type LaunchDependencies, launchInstances } from './launch-instances';
import { recordPoolEvents } from './record-pool-events';

export interface InterruptionDependencies extends LaunchDependencies {
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
}

export interface ReplacementResult {
  readonly status: 'launched' | 'already-replaced' | 'no-capacity';
  readonly instanceIds: readonly string[];
  readonly pools: readonly { instanceType: string; subnetId: string; market: string }[];
  readonly onDemandFallback: number;
}

/** What this delivery did: `replaced` only if it launched the replacement, `notified` if it only told and marked. */
export interface InterruptionResult {
  readonly status: 'stale' | 'not-ours' | 'duplicate' | 'ignored' | 'notified' | 'replaced' | 'observed';
  readonly instanceId: string;
  readonly fleet?: string;
  readonly reason?: string;
  readonly replacement?: ReplacementResult;
}

/** The fleet a worker belongs to, or undefined when it is not a worker of this deployment's configured fleets. */
export function fleetOf(
  worker: Worker | undefined,
  config: Config,
): { fleet: string; spec: FleetSpec } | undefined {
  if (worker === undefined || !isOwnedBy(worker, config.managedBy)) return undefined;
  const fleet = worker.tags[TAG.fleet];
  const spec = fleet !== undefined && Object.hasOwn(config.fleets, fleet) ? config.fleets[fleet] : undefined;
  return fleet === undefined || spec === undefined ? undefined : { fleet, spec };
}

/** Waits for every promise, then throws the first failure: no started work is abandoned mid-flight. */
async function settleAll(work: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** Marks a worker as going (tags), tells the user's systems (Worker Draining event), and remembers the pool. */
async function markDraining(
  deps: InterruptionDependencies,
  worker: Worker,
  draining: WorkerDraining,
  poolEvent: PoolEventKind,
): Promise<void> {
  const { ec2, events, s3, config, now, logger } = deps;
  await settleAll([
    tagWorkers(ec2, [worker.instanceId], {
      [TAG.interruptedAt]: now().toISOString(),
      [TAG.interruption]: draining.action,
    }),
    putWorkerDraining(events, draining),
    worker.market === 'spot'
      ? recordPoolEvents(s3, config.stateBucket, config.managedBy, [{ pool: worker, kind: poolEvent }], now())
      : Promise.resolve(),
  ]);
  logger.info('worker marked draining', { ...draining });
}

/**
 * A replacement claim still `claimed` this long after it was taken belongs to an invocation that died before it
 * launched (the function times out after 30 s), or that found no capacity: a later event may take it over.
 */
export const ABANDONED_CLAIM_MS = 2 * 60 * 1000;

interface ReplacementClaim {
  readonly status: 'claimed' | 'launched';
  readonly correlationId: string;
  readonly at: string;
  readonly instanceIds?: readonly string[];
}

/**
 * Takes over a replacement claim that nobody is acting on any more (see ABANDONED_CLAIM_MS): one taker wins the
 * conditional write, and it relaunches only if no instance already carries the replaces tag (a launch that
 * succeeded just before its invocation died; on EC2 the same ClientToken would also return that instance).
 */
async function takeOverAbandoned(
  deps: InterruptionDependencies,
  key: string,
  worker: Worker,
  fresh: ReplacementClaim,
): Promise<boolean> {
  const { s3, ec2, config, logger, now } = deps;
  const current = await readJson<ReplacementClaim>(s3, config.stateBucket, key);
  if (current === undefined) return claimOnce(s3, config.stateBucket, key, fresh);
  const age = now().getTime() - Date.parse(current.value.at);
  if (current.value.status !== 'claimed' || !(age >= ABANDONED_CLAIM_MS)) return false;
  if (!(await replaceIfUnchanged(s3, config.stateBucket, key, current.etag, fresh))) return false;
  const launched = await listWorkersTagged(ec2, config.managedBy, {
    key: TAG.replaces,
    value: worker.instanceId,
  });
  if (launched.length > 0) {
    await writeState(s3, config.stateBucket, key, {
      ...fresh,
      status: 'launched',
      instanceIds: launched.map((replacement) => replacement.instanceId),
    });
    return false;
  }
  logger.warn('abandoned replacement claim taken over', {
    instanceId: worker.instanceId,
    claimedAt: current.value.at,
    ageSeconds: Math.round(age / 1000),
  });
  return true;
}

/**
 * Launches the one replacement of a worker, through the launcher, away from the worker's pool. Once per instance
 * whatever the number of events, in sequence or concurrently (a claim in the state bucket). The claim is given back
 * if the launch fails, marked `launched` once it succeeds, and taken over by a later event if it was abandoned.
 */
async function replaceOnce(
  deps: InterruptionDependencies,
  worker: Worker,
  owner: { fleet: string; spec: FleetSpec },
  correlationId: string,
): Promise<ReplacementResult> {
  const { s3, config, logger, now } = deps;
  const key = claimKey(config.managedBy, 'replacement', worker.instanceId);
  const fresh: ReplacementClaim = { status: 'claimed', correlationId, at: now().toISOString() };
  const mine =
    (await claimOnce(s3, config.stateBucket, key, fresh)) ||
    (await takeOverAbandoned(deps, key, worker, fresh));
  if (!mine) {
    logger.info('replacement already launched', { fleet: owner.fleet, instanceId: worker.instanceId });
    return { status: 'already-replaced', instanceIds: [], pools: [], onDemandFallback: 0 };
  }
  let outcome: Awaited<ReturnType<typeof launchInstances>>;
  try {
    outcome = await launchInstances(deps, {
      fleet: owner.fleet,
      spec: owner.spec,
      count: 1,
      reason: 'replacement',
      triggerId: `replace-${worker.instanceId}`,
      avoidSpotPools: new Set([placementKey(worker)]),
      extraTags: { [TAG.replaces]: worker.instanceId },
    });
  } catch (error) {
    await releaseClaim(s3, config.stateBucket, key);
    throw error;
  }
  const instanceIds = outcome.launched.map((launched) => launched.instanceId);
  // Without capacity the claim stays `claimed`: a later event (the termination notice) tries again.
  if (instanceIds.length > 0)
    await writeState(s3, config.stateBucket, key, { ...fresh, status: 'launched', instanceIds });
  return {
    status: instanceIds.length > 0 ? 'launched' : 'no-capacity',
    instanceIds,
    pools: outcome.launched.map(({ instanceType, subnetId, market }) => ({ instanceType, subnetId, market })),
    onDemandFallback: outcome.onDemandFallback,
  };
}

async function notifyOutcome(
  deps: InterruptionDependencies,
  worker: Worker,
  fleet: string,
  correlationId: string,
  cause: string,
  replacement: ReplacementResult,
): Promise<void> {
  if (replacement.status === 'already-replaced') return;
  const { sns, config } = deps;
  await publishNotification(sns, config.topicArn, {
    kind: 'replacement',
    fleet,
    subject:
      replacement.status === 'launched'
        ? `worker-fleet ${fleet}: ${worker.instanceId} replaced by ${replacement.instanceIds.join(', ')}`
        : `worker-fleet ${fleet}: no capacity to replace ${worker.instanceId}`,
    details: { correlationId, instanceId: worker.instanceId, cause, replacement },
  });
}

/**
 * Marks the worker draining (unless the claim's steps have) while its one replacement launches and the outcome is
 * notified; both run to the end before the first failure is thrown. `draining` names the cause and the event.
 */
async function markAndReplace(
  deps: InterruptionDependencies,
  worker: Worker,
  owner: { fleet: string; spec: FleetSpec },
  draining: WorkerDraining,
  poolEvent: PoolEventKind,
  steps: Pick<ClaimedSteps, 'mark'>,
): Promise<ReplacementResult> {
  const marking = steps.mark(() => markDraining(deps, worker, draining, poolEvent));
  const replacing = replaceOnce(deps, worker, owner, draining.correlationId);
  await settleAll([
    marking,
    replacing.then((result) =>
      notifyOutcome(deps, worker, owner.fleet, draining.correlationId, draining.reason, result),
    ),
  ]);
  return replacing;
}

type ClaimedSteps = ReturnType<typeof claimedSteps>;

/**
 * The once-only steps of a claimed event's delivery. What is done is recorded as each step finishes: it is what a
 * failed delivery reopens the claim with (interruption-notice.ts). A delivery that does not hold the claim starts
 * with everything done, so it notifies and marks nothing.
 */
function claimedSteps(claimed: boolean, progress: ClaimProgress) {
  const done = claimed
    ? { notified: progress.notified, marked: progress.marked }
    : { notified: true, marked: true };
  return {
    /** What is done so far. */
    done,
    async notify(send: () => Promise<unknown>): Promise<void> {
      if (done.notified) return;
      await send();
      done.notified = true;
    },
    mark(markIt: () => Promise<unknown>): Promise<void> {
      if (done.marked) return Promise.resolve();
      return markIt().then(() => {
        done.marked = true;
      });
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
  const { ec2, s3, config, logger } = deps;
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
  try {
    if (described.status === 'rejected') throw described.reason;
    const worker = described.value;
    const owner = fleetOf(worker, config);
    if (worker === undefined || owner === undefined) {
      if (claimed)
        await releaseClaim(s3, config.stateBucket, claimKey(config.managedBy, 'warning', instanceId));
      if (noticed.value.notified)
        logger.warn('notified from the registry, but EC2 does not know the instance as a worker', {
          instanceId,
        });
      return notOurs(deps, instanceId, worker);
    }
    await steps.notify(() => publishWarning(deps, event, worker, owner.fleet));
    if (!claimed)
      logger.info('warning already handled, checking the replacement', { fleet: owner.fleet, instanceId });

    const draining: WorkerDraining = {
      instanceId,
      fleet: owner.fleet,
      reason: 'spot-interruption',
      action: event.action,
      deadline: new Date(event.time.getTime() + WARNING_NOTICE_MS).toISOString(),
      correlationId: event.id,
    };
    const replacement = await markAndReplace(deps, worker, owner, draining, 'interruption', steps);
    const launchedHere = replacement.status !== 'already-replaced';
    return {
      status: launchedHere ? 'replaced' : claimed ? 'notified' : 'duplicate',
      instanceId,
      fleet: owner.fleet,
      replacement,
    };
  } catch (error) {
    if (claimed) await reopenClaim(deps, 'warning', event, steps.done);
    throw error;
  }
}

async function onRebalance(
  deps: InterruptionDependencies,
  event: Extract<InstanceEvent, { kind: 'rebalance' }>,
): Promise<InterruptionResult> {
  const { ec2, s3, sns, config, logger, now } = deps;
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
    await steps.notify(() =>
      publishNotification(sns, config.topicArn, {
        kind: 'rebalance-recommendation',
        fleet: owner.fleet,
        subject: `worker-fleet ${owner.fleet}: rebalance recommendation for ${instanceId} (${mode})`,
        details: { ...noticeOf(worker, owner.fleet), action: mode, correlationId: event.id },
      }),
    );
    if (mode === 'notify') {
      await steps.mark(() =>
        worker.market === 'spot'
          ? recordPoolEvents(
              s3,
              config.stateBucket,
              config.managedBy,
              [{ pool: worker, kind: 'rebalance' }],
              now(),
            )
          : Promise.resolve(),
      );
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
    return { status: 'replaced', instanceId, fleet: owner.fleet, replacement };
  } catch (error) {
    await reopenClaim(deps, 'rebalance', event, steps.done);
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

  // A spot worker ended. If its warning was missed, nothing replaced it yet: do it now, once.
  const replacement = await replaceOnce(deps, worker, owner, event.id);
  if (replacement.status === 'already-replaced')
    return { status: 'duplicate', instanceId, fleet: owner.fleet };
  logger.warn('spot worker ended without a handled warning, replaced', {
    fleet: owner.fleet,
    instanceId,
    state,
  });
  await settleAll([
    notifyOutcome(deps, worker, owner.fleet, event.id, 'terminated without a warning', replacement),
    recordPoolEvents(
      deps.s3,
      deps.config.stateBucket,
      deps.config.managedBy,
      [{ pool: worker, kind: 'interruption' }],
      deps.now(),
    ),
  ]);
  return { status: 'replaced', instanceId, fleet: owner.fleet, replacement };
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
