import { TAG, type Tags } from './tags';

export type Market = 'spot' | 'on-demand';

/** A fleet instance as worker-fleet sees it. */
export interface Worker {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly availabilityZone: string;
  readonly state: string;
  readonly market: Market;
  readonly launchTime?: Date;
  /** The AMI it was launched from, as EC2 describes it. */
  readonly imageId?: string;
  /** When a stopped or terminated instance left the running state, as EC2 reports it. */
  readonly stateChangedAt?: Date;
  /** Why it left the running state, as EC2 codes it (`Client.UserInitiatedShutdown`, `Server.SpotInstanceTermination`). */
  readonly stateReason?: string;
  readonly tags: Tags;
  /** The ARN of the instance profile it runs with (`IamInstanceProfile.Arn`); undefined for none. */
  readonly instanceProfileArn?: string;
  /** Its place among the instances one RunInstances call launched (`AmiLaunchIndex`, from 0). */
  readonly launchIndex?: number;
}

/**
 * How many workers one RunInstances call may replace: their ids, space-separated, fit in one tag value (EC2 allows
 * 256 characters; an instance id has 19).
 */
export const REPLACEMENT_BATCH = 12;

/** The replaces tag of a launch that replaces `instanceIds`, in launch order. */
export const replacesTag = (instanceIds: readonly string[]): string => instanceIds.join(' ');

/**
 * The worker this one replaces: the id at its launch index in its replaces tag (one launch replaces several workers
 * of one pool, each instance one of them); undefined for a worker that replaces none, or whose tag does not say.
 */
export function replacedInstance(worker: Pick<Worker, 'tags' | 'launchIndex'>): string | undefined {
  const ids = (worker.tags[TAG.replaces] ?? '').split(' ').filter((id) => id !== '');
  return ids.length === 1 ? ids[0] : ids[worker.launchIndex ?? -1];
}

/** States in which an instance still exists as a worker (terminated ones are history). */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'] as const;

/** What marks an instance as this deployment's: its managed-by tag value and the workers' instance profile name. */
export interface Owner {
  readonly managedBy: string;
  readonly instanceProfile: string;
}

/** States in which an instance has ended: nothing is changed on it any more. */
const ENDED_STATES: readonly string[] = ['shutting-down', 'terminated'];

/**
 * The ownership check: only a worker that carries this deployment's managed-by tag *and* runs with its worker
 * instance profile is ever changed. Anyone allowed to tag can copy a tag; only the launcher (iam:PassRole on the
 * worker role) gives an instance the profile, so an instance someone tags by hand is never ours. Profile names are
 * unique in an account, whatever their path: the ARN's last segment names it. An instance that has ended is changed
 * no more (only counted for a replacement, or named in an access record) and its profile is not to be relied on
 * (moto drops it at termination): its tag alone says whose it was.
 */
export function isOwnedBy(
  worker: Pick<Worker, 'tags' | 'instanceProfileArn' | 'state'>,
  owner: Owner,
): boolean {
  if (worker.tags[TAG.managedBy] !== owner.managedBy) return false;
  if (ENDED_STATES.includes(worker.state)) return true;
  const profile = /^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/(?:.*\/)?([^/]+)$/.exec(
    worker.instanceProfileArn ?? '',
  );
  return profile?.[1] === owner.instanceProfile;
}

/** EC2's reason code for an instance a person (console, CLI, API) stopped or terminated. */
export const USER_INITIATED = 'Client.UserInitiatedShutdown';
