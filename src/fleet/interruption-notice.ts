import type { Logger } from '@aws-lambda-powertools/logger';
import type { SNSClient } from '@aws-sdk/client-sns';
import { publishNotification } from '../aws/notify';
import type { Config } from '../config';
import type { InstanceEvent } from '../events/instance';
import { assertNever } from '../events/parse';
import type { ClaimKind, ClaimProgress, FleetState } from '../model/fleet-state';
import type { Notification } from '../model/notification';

export type { ClaimProgress };

/**
 * The first step of a spot interruption warning, which needs the state table and SNS only: whether this is the
 * first delivery of the warning (a claim), whose worker it is (the registry), and the notification. It imports
 * nothing of EC2, so that on a cold start the handler runs it while the EC2 client is still loading.
 */
export interface NoticeDependencies {
  readonly state: FleetState;
  readonly sns: SNSClient;
  readonly config: Config;
  readonly logger: Logger;
  readonly now: () => Date;
  /**
   * Why this container has no fleet configuration (the store's document unreadable or invalid): `config.fleets` is
   * then empty and says nothing. A warning is still notified, from the registry and the worker's tags; the rest fails
   * with this error (spot-interruption.ts).
   */
  readonly configurationError?: Error;
}

/** Whether a fleet is configured, no longer configured (its workers are orphans), or unknown (no configuration). */
export type FleetStanding = 'configured' | 'orphan' | 'unknown';

/** A fleet's standing in this container's configuration. Pure. */
export function standingOf(
  deps: Pick<NoticeDependencies, 'config' | 'configurationError'>,
  fleet: string,
): FleetStanding {
  if (deps.configurationError !== undefined) return 'unknown';
  return Object.hasOwn(deps.config.fleets, fleet) ? 'configured' : 'orphan';
}

/** EC2 gives two minutes' notice before it reclaims a spot instance (best effort). */
export const WARNING_NOTICE_MS = 2 * 60 * 1000;

/** A warning this long past its deadline is worthless: the worker is gone, and so is the chance to drain it. */
export const STALE_AFTER_DEADLINE_MS = 60 * 1000;
/** A rebalance recommendation this old has been overtaken by events (a warning, or nothing at all). */
export const STALE_REBALANCE_MS = 15 * 60 * 1000;

/** Why an event is too old to act on, or undefined when it is fresh. Pure. */
export function staleness(event: InstanceEvent, now: Date): string | undefined {
  const age = now.getTime() - event.time.getTime();
  switch (event.kind) {
    case 'spot-warning':
      return age > WARNING_NOTICE_MS + STALE_AFTER_DEADLINE_MS
        ? `warning from ${event.time.toISOString()} is ${Math.round(age / 1000)}s old, past its deadline`
        : undefined;
    case 'rebalance':
      return age > STALE_REBALANCE_MS
        ? `rebalance recommendation is ${Math.round(age / 60_000)} minutes old`
        : undefined;
    case 'state-change':
      return undefined;
    default:
      return assertNever(event);
  }
}

/** What the notification says of the worker. */
export interface NoticedWorker {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly subnetId: string;
}

/**
 * An event's claim (a spot warning's, a rebalance recommendation's): one delivery at a time acts on it. A delivery
 * that fails leaves it `open` with what it got done, so that a retry of the event takes it over and does the rest
 * (and nothing twice); one that succeeds leaves it `done`. A claim still `working` after CLAIM_TTL_MS belongs to an
 * invocation that died (a timeout leaves no chance to reopen it): it is taken over as an open one. One item per
 * instance, taken with one conditional write.
 */
/**
 * How long a claim may stay `working`: longer than the interruption function's timeout (30 s), shorter than
 * Lambda's first retry of a failed asynchronous invocation (about a minute after it failed).
 */
export const CLAIM_TTL_MS = 60_000;

export const NOTHING_DONE: ClaimProgress = {
  notified: false,
  copied: false,
  tagged: false,
  announced: false,
  counted: false,
};
export const ALL_DONE: ClaimProgress = {
  notified: true,
  copied: true,
  tagged: true,
  announced: true,
  counted: true,
};

export interface WarningNotice extends ClaimProgress {
  /** This delivery holds the warning's claim: it does what is not done yet (notify, mark) and replaces. */
  readonly claimed: boolean;
  /** What this step published to the topic, for the second phase to put on the bus. */
  readonly published?: Notification;
}

export const noticeOf = (worker: NoticedWorker, fleet: string) => ({
  instanceId: worker.instanceId,
  fleet,
  instanceType: worker.instanceType,
  availabilityZone: worker.availabilityZone,
  subnetId: worker.subnetId,
});

type SpotWarning = Extract<InstanceEvent, { kind: 'spot-warning' }>;

/**
 * When the worker goes: two minutes after a warning to terminate; at once for stop and hibernate (AWS starts
 * hibernating as soon as it warns, and gives no lead it promises for a stop).
 */
export function warningDeadline(event: SpotWarning): Date {
  return event.action === 'terminate' ? new Date(event.time.getTime() + WARNING_NOTICE_MS) : event.time;
}

/**
 * The notification of a warning: the worker, its fleet, the action and the deadline EC2 gave. A worker of a fleet
 * that is no longer configured is an orphan: its notification says so, and that nothing replaces it. Pure.
 */
export function warningNotification(
  event: SpotWarning,
  worker: NoticedWorker,
  fleet: string,
  standing: FleetStanding,
): Notification {
  const deadline = warningDeadline(event).toISOString();
  const when = event.action === 'terminate' ? `by ${deadline}` : 'now';
  const orphan = standing === 'orphan';
  return {
    kind: 'spot-interruption',
    fleet,
    subject: `worker-fleet ${fleet}${orphan ? ' (orphan)' : ''}: spot interruption of ${worker.instanceId} (${event.action} ${when})`,
    details: {
      ...noticeOf(worker, fleet),
      action: event.action,
      deadline,
      correlationId: event.id,
      ...(orphan ? { orphan: true, replacement: 'none: the fleet is no longer configured' } : {}),
    },
  };
}

/**
 * Tells people that a worker is about to be reclaimed, with the deadline EC2 gave: on the topic only, first. Resolves
 * to the notification, which the second phase then puts on the bus (spot-interruption.ts): the event never delays
 * the SNS message, nor loads the EventBridge client before it.
 */
export async function publishWarning(
  deps: NoticeDependencies,
  event: SpotWarning,
  worker: NoticedWorker,
  fleet: string,
): Promise<Notification> {
  const standing = standingOf(deps, fleet);
  const notification = warningNotification(event, worker, fleet, standing);
  await publishNotification(deps.sns, deps.config.topicArn, notification);
  deps.logger.info('interruption notified', {
    fleet,
    instanceId: worker.instanceId,
    deadline: notification.details.deadline,
    action: event.action,
    standing,
  });
  return notification;
}

/** Why an event about another region is none of this deployment's business, or undefined when it is its own. */
export function otherRegion(event: InstanceEvent, region: string): string | undefined {
  return event.region === undefined || event.region === region
    ? undefined
    : `event from ${event.region}; this deployment runs in ${region}`;
}

/**
 * Records an event's claim, held by the caller, as `open` to a retry with what is done (a failed delivery), or as
 * `done` (a delivery that finished). A claim that cannot be written is left `working`: it expires (CLAIM_TTL_MS).
 */
export async function settleClaim(
  deps: NoticeDependencies,
  what: ClaimKind,
  event: InstanceEvent,
  state: 'open' | 'done',
  progress: ClaimProgress,
): Promise<void> {
  const { logger } = deps;
  try {
    await deps.state.settleClaim(
      what,
      event.instanceId,
      { eventId: event.id, now: deps.now(), state },
      progress,
    );
    if (state === 'open')
      logger.info(`${what} left open for a retry`, { instanceId: event.instanceId, ...progress });
  } catch (error) {
    logger.error(`could not record the ${what}'s claim as ${state}; it expires`, {
      instanceId: event.instanceId,
      error,
    });
  }
}

/**
 * Takes an event's claim: the first delivery takes it fresh; a later one takes it over if a failed delivery left it
 * open or a dead one left it working past CLAIM_TTL_MS, and learns what is done. Undefined when another delivery
 * holds it or it is done.
 */
export async function takeClaim(
  deps: NoticeDependencies,
  what: ClaimKind,
  event: InstanceEvent,
): Promise<ClaimProgress | undefined> {
  const taken = await deps.state.takeClaim(what, event.instanceId, {
    eventId: event.id,
    now: deps.now(),
    ttlMs: CLAIM_TTL_MS,
  });
  if (taken?.takenOver === true)
    deps.logger.warn(`${what} claim of a dead delivery taken over`, {
      instanceId: event.instanceId,
      ...taken.progress,
    });
  return taken?.progress;
}

/**
 * Takes the warning's claim and reads the registry together (one round trip), and notifies when the claim is this
 * delivery's, nothing was notified yet and the registry knows the worker: configured or not (an orphan's notice says
 * so), with or without a readable fleet configuration. Otherwise nothing is published here: the caller notifies
 * once EC2 has said whose instance it is. A registry that cannot be read only delays the notification until then.
 */
export async function noticeSpotWarning(
  deps: NoticeDependencies,
  event: SpotWarning,
): Promise<WarningNotice> {
  const { state, config, logger } = deps;
  const unclaimed = { claimed: false, ...ALL_DONE };
  if (staleness(event, deps.now()) !== undefined || otherRegion(event, config.region) !== undefined) {
    return unclaimed;
  }
  // Read while the claim is taken: one round trip for both.
  const registered = state.lookUpWorker(event.instanceId).catch((error: unknown) => {
    logger.warn('worker registry not readable, notifying after EC2', {
      instanceId: event.instanceId,
      error,
    });
    return undefined;
  });
  const progress = await takeClaim(deps, 'warning', event);
  if (progress === undefined) return unclaimed;
  const worker = await registered;
  if (progress.notified || worker === undefined) {
    return { claimed: true, ...progress };
  }
  let published: Notification;
  try {
    published = await publishWarning(deps, event, worker, worker.fleet);
  } catch (error) {
    await settleClaim(deps, 'warning', event, 'open', progress);
    throw error;
  }
  return { claimed: true, ...progress, notified: true, published };
}
