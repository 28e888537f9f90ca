/** The event source worker-fleet uses for the events it consumes and emits on the default bus. */
export const EVENT_SOURCE = 'worker-fleet';

/** The detail-type of the event that tells a user's own systems a worker is about to go. */
export const WORKER_DRAINING = 'Worker Draining';

/** The kinds of notification worker-fleet publishes; subscribers filter on the `kind` message attribute. */
export type NotificationKind =
  | 'launch'
  | 'launch-failed'
  | 'spot-interruption'
  | 'rebalance-recommendation'
  | 'replacement'
  | 'idle-warning'
  | 'idle-terminated'
  | 'idle-dry-run'
  | 'drained'
  | 'scheduled-change'
  | 'access-after-termination'
  | 'imdsv1-credentials'
  | 'access-denied-burst';

/**
 * The detail-type of the EventBridge event (source `worker-fleet`, default bus) that carries each notification kind,
 * beside its SNS message: a rule on it routes the notification anywhere (an API destination, a queue).
 */
export const NOTIFICATION_DETAIL_TYPES = {
  launch: 'Fleet Workers Launched',
  'launch-failed': 'Fleet Launch Failed',
  'spot-interruption': 'Fleet Spot Interruption',
  'rebalance-recommendation': 'Fleet Rebalance Recommendation',
  replacement: 'Fleet Worker Replacement',
  'idle-warning': 'Fleet Idle Warning',
  'idle-terminated': 'Fleet Idle Terminated',
  'idle-dry-run': 'Fleet Idle Dry Run',
  drained: 'Fleet Worker Drained',
  'scheduled-change': 'Fleet Scheduled Change',
  'access-after-termination': 'Fleet Access After Termination',
  'imdsv1-credentials': 'Fleet IMDSv1 Credentials',
  'access-denied-burst': 'Fleet Access Denied Burst',
} as const satisfies Readonly<Record<NotificationKind, string>>;

export interface Notification {
  readonly kind: NotificationKind;
  /** Absent when no fleet is concerned (a stranger's refused requests). */
  readonly fleet?: string;
  readonly subject: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** The detail of a `Worker Draining` event, for the user's own systems to checkpoint or drain work. */
export interface WorkerDraining {
  readonly instanceId: string;
  readonly fleet: string;
  readonly reason: 'spot-interruption' | 'rebalance-recommendation';
  readonly action: string;
  /** ISO time by which the worker is gone; absent for a rebalance recommendation (no deadline). */
  readonly deadline?: string;
  readonly correlationId: string;
}
