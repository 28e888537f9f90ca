/**
 * Tag keys worker-fleet writes and reads. The managed-by tag is the ownership mark: nothing without it
 * (with this deployment's value) is ever changed.
 */
export const TAG = {
  managedBy: 'worker-fleet:managed-by',
  fleet: 'worker-fleet:fleet',
  launchReason: 'worker-fleet:launch-reason',
  triggerId: 'worker-fleet:trigger-id',
  /** Set when a worker is told it will go (spot warning, or rebalance with replace-early): it no longer counts. */
  interruptedAt: 'worker-fleet:interrupted-at',
  /** What the worker was told: terminate, stop, hibernate (spot warning) or rebalance. */
  interruption: 'worker-fleet:interruption',
  /**
   * On a replacement: the instances its launch replaces, space-separated in launch order; a worker replaces the one at
   * its AMI launch index (see replacedInstance). One id for a launch of one.
   */
  replaces: 'worker-fleet:replaces',
  /** Set by the idle reaper on a worker it judged idle: its termination is ours, not a lost worker. */
  idleSince: 'worker-fleet:idle-since',
  /** Why the idle reaper marked the worker: the rule that decided (heartbeat, cpu, max-lifetime, ...). */
  idleReason: 'worker-fleet:idle-reason',
  /**
   * Set by the reaper on a worker it retires, with the time it asked: the durable drain request, which the worker's
   * agent reads through the instance metadata service (InstanceMetadataTags) and answers with a `drained` heartbeat.
   */
  drainRequestedAt: 'worker-fleet:drain-requested-at',
  /** Why the worker is drained (a retirement reason: idle, max-lifetime, operator-drain, ...). */
  drainReason: 'worker-fleet:drain-reason',
  /** Set by you on a worker the idle reaper must never terminate (any value but "false"). */
  protected: 'worker-fleet:protected',
} as const;

/** Prefix reserved for worker-fleet's own tags; fleet specs may not set tags under it. */
export const RESERVED_TAG_PREFIX = 'worker-fleet:';

export type Tags = Readonly<Record<string, string>>;

/** Turns SDK tag lists into a plain map; tags without a key are dropped. */
export function tagMap(tags: readonly { Key?: string; Value?: string }[] | undefined): Tags {
  const map: Record<string, string> = {};
  for (const { Key, Value } of tags ?? []) {
    if (Key !== undefined) map[Key] = Value ?? '';
  }
  return map;
}
