import type { Market } from './worker';

/**
 * The metrics worker-fleet emits (CloudWatch embedded metric format), defined once: the functions emit them by these
 * names, and the dashboard, the alarms (config/observability.cjs) and the tests read this same list.
 */
export const METRIC_NAMESPACE = 'WorkerFleet';

/**
 * Every metric carries `service` (the deployment, `worker-fleet-<stage>`: two stages in one account never mix) and
 * `fleet`; some carry `market` too, emitted as a dimension set of its own beside the fleet's total.
 */
export type MetricDimensionName = 'service' | 'fleet' | 'market';

/** How values met in one invocation become the value emitted: summed, the last one kept, or each one a sample. */
export type MetricAggregation = 'sum' | 'last' | 'samples';

export interface MetricDefinition {
  readonly unit: 'Count' | 'Milliseconds';
  readonly aggregation: MetricAggregation;
  /** The dimension sets it is emitted with. */
  readonly dimensions: readonly (readonly MetricDimensionName[])[];
  readonly description: string;
}

const FLEET = ['service', 'fleet'] as const;
const FLEET_MARKET = ['service', 'fleet', 'market'] as const;

export const FLEET_METRICS = {
  WorkersRunning: {
    unit: 'Count',
    aggregation: 'last',
    dimensions: [FLEET, FLEET_MARKET],
    description: 'workers EC2 reports pending or running, at each reconciliation',
  },
  WorkersTarget: {
    unit: 'Count',
    aggregation: 'last',
    dimensions: [FLEET],
    description: 'the size the fleet should have, at each reconciliation',
  },
  WorkersShort: {
    unit: 'Count',
    aggregation: 'last',
    dimensions: [FLEET],
    description:
      'workers the fleet lacks to reach its size (WorkersTarget - WorkersRunning, at least 0), at each reconciliation',
  },
  WorkersLaunched: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET, FLEET_MARKET],
    description: 'workers launched, growth and replacements',
  },
  LaunchShortfall: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'workers a growth asked for and no pool had capacity for',
  },
  OnDemandFallbacks: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'workers launched on-demand because no spot pool had capacity',
  },
  StateItemsUnreadable: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'state items that did not parse: set aside, the fleet rebuilt from EC2',
  },
  Interruptions: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'spot workers EC2 reclaims: warnings handled, and terminations whose warning was missed',
  },
  RebalanceRecommendations: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'rebalance recommendations handled (not those the fleet ignores)',
  },
  Replacements: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET, FLEET_MARKET],
    description: 'replacements launched for interrupted or recommended workers',
  },
  ReplacementsFailed: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'replacement attempts that found no capacity (retried at each reconciliation)',
  },
  ReplacementLatency: {
    unit: 'Milliseconds',
    aggregation: 'samples',
    dimensions: [FLEET],
    description: 'from the replacement requested (the warning handled) to its replacement launched',
  },
  IdleMarked: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'workers marked idle (terminated at a later run unless busy)',
  },
  IdleTerminated: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'marked workers terminated by the reaper',
  },
  WorkersAboveMax: {
    unit: 'Count',
    aggregation: 'last',
    dimensions: [FLEET],
    description:
      "workers above the fleet's maxCapacity (it was lowered), at each reaper run: retired, idle first",
  },
  IdleKeptByProtection: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'idle workers kept by the protected tag or EC2 termination protection',
  },
  IdleKeptByFloor: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: "idle workers kept by the fleet's minWorkers floor",
  },
  HeartbeatsUnreadable: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description:
      'heartbeats the reaper listed but could not read, each judged unknown (fleet `none`: read before any fleet is judged)',
  },
  NotificationEventsFailed: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description:
      "notifications whose EventBridge copy could not be put after the SDK's retries: the delivery fails, its retry puts it",
  },
  ConfigurationUnreadable: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description:
      'events met by a container without a readable fleet configuration (fleet `none`): warnings notified, the rest failed',
  },
  AccessRecords: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: 'accesses to the fleet bucket logged (fleet `none` when no worker made them)',
  },
  AccessAlerts: {
    unit: 'Count',
    aggregation: 'sum',
    dimensions: [FLEET],
    description: "access alerts raised (fleet `none` for a stranger's requests)",
  },
} as const satisfies Readonly<Record<string, MetricDefinition>>;

export type FleetMetricName = keyof typeof FLEET_METRICS;

/** The `fleet` of an access made by no worker of a fleet. */
export const NO_FLEET = 'none';

/**
 * What one value is about. `market` only for the metrics that have a market dimension set; a summed value given with
 * its market counts toward the fleet's total too.
 */
export interface MetricDimensions {
  readonly fleet: string;
  readonly market?: Market;
}

/**
 * Where the core puts its metrics (like the logger, a dependency): the handlers wire the Powertools one, which
 * flushes once per invocation; the CLI and tests may pass their own.
 */
export interface MetricsSink {
  add(name: FleetMetricName, value: number, dimensions: MetricDimensions): void;
}

/** A sink that keeps nothing: for callers that are not an invocation (the CLI). */
export const DISCARD_METRICS: MetricsSink = { add: () => undefined };
