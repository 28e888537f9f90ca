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
  /** When a stopped or terminated instance left the running state, as EC2 reports it. */
  readonly stateChangedAt?: Date;
  /** Why it left the running state, as EC2 codes it (`Client.UserInitiatedShutdown`, `Server.SpotInstanceTermination`). */
  readonly stateReason?: string;
  readonly tags: Tags;
}

/** States in which an instance still exists as a worker (terminated ones are history). */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'] as const;

/** The ownership check: only a worker that carries this deployment's managed-by tag is ever changed. */
export function isOwnedBy(worker: Pick<Worker, 'tags'>, managedBy: string): boolean {
  return worker.tags[TAG.managedBy] === managedBy;
}

/** EC2's reason code for an instance a person (console, CLI, API) stopped or terminated. */
export const USER_INITIATED = 'Client.UserInitiatedShutdown';
