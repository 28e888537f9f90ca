import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import { publishNotification } from '../aws/notify';
import { claimOnce } from '../aws/state-store';
import { lookUpWorker } from '../aws/worker-registry';
import type { Config } from '../config';
import { assertNever, type InstanceEvent } from '../events';

/**
 * The first step of a spot interruption warning, which needs S3 and SNS only: whether this is the first delivery
 * of the warning (a claim), whose worker it is (the registry), and the notification. It imports nothing of EC2, so
 * that on a cold start the handler runs it while the EC2 client is still loading.
 */
export interface NoticeDependencies {
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly config: Config;
  readonly logger: Logger;
  readonly now: () => Date;
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

/** Where the once-per-instance claims live in the state bucket. */
export const claimKey = (
  managedBy: string,
  what: 'warning' | 'rebalance' | 'replacement',
  instanceId: string,
) => `claims/${managedBy}/${what}/${instanceId}`;

/** What the notification says of the worker. */
export interface NoticedWorker {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly subnetId: string;
}

export interface WarningNotice {
  /** This delivery took the warning's claim: it is the one that notifies, marks and replaces. */
  readonly firstWarning: boolean;
  /** The notification went out already, from the registry's record of the worker. */
  readonly notified: boolean;
}

export const noticeOf = (worker: NoticedWorker, fleet: string) => ({
  instanceId: worker.instanceId,
  fleet,
  instanceType: worker.instanceType,
  availabilityZone: worker.availabilityZone,
  subnetId: worker.subnetId,
});

type SpotWarning = Extract<InstanceEvent, { kind: 'spot-warning' }>;

/** Tells people that a worker is about to be reclaimed, with the deadline EC2 gave. */
export async function publishWarning(
  deps: NoticeDependencies,
  event: SpotWarning,
  worker: NoticedWorker,
  fleet: string,
): Promise<void> {
  const deadline = new Date(event.time.getTime() + WARNING_NOTICE_MS).toISOString();
  await publishNotification(deps.sns, deps.config.topicArn, {
    kind: 'spot-interruption',
    fleet,
    subject: `worker-fleet ${fleet}: spot interruption of ${worker.instanceId} (${event.action} by ${deadline})`,
    details: { ...noticeOf(worker, fleet), action: event.action, deadline, correlationId: event.id },
  });
  deps.logger.info('interruption notified', {
    fleet,
    instanceId: worker.instanceId,
    deadline,
    action: event.action,
  });
}

/**
 * Takes the warning's claim and reads the registry together (one round trip), and notifies when the claim is this
 * delivery's and the registry knows the worker as one of a configured fleet. Otherwise nothing is published here:
 * the caller notifies once EC2 has said whose instance it is.
 */
export async function noticeSpotWarning(
  deps: NoticeDependencies,
  event: SpotWarning,
): Promise<WarningNotice> {
  const { s3, config } = deps;
  if (staleness(event, deps.now()) !== undefined) return { firstWarning: false, notified: false };
  const [registered, firstWarning] = await Promise.all([
    lookUpWorker(s3, config.stateBucket, config.managedBy, event.instanceId),
    claimOnce(s3, config.stateBucket, claimKey(config.managedBy, 'warning', event.instanceId), {
      eventId: event.id,
      at: deps.now().toISOString(),
    }),
  ]);
  if (!firstWarning || registered === undefined || !Object.hasOwn(config.fleets, registered.fleet)) {
    return { firstWarning, notified: false };
  }
  await publishWarning(deps, event, registered, registered.fleet);
  return { firstWarning, notified: true };
}
