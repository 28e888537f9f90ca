import * as z from 'zod';
import { InvalidEventError } from './errors';
import { describeIssues } from './fleet/fleet-spec';
import { lazy } from './lazy';

/** The event source worker-fleet uses for the events it consumes and emits on the default bus. */
export const EVENT_SOURCE = 'worker-fleet';

export const LAUNCH_REQUESTED = 'Launch Workers Requested';
export const SCHEDULED_EVENT = 'Scheduled Event';

/** What caused a launch, and the id that makes it idempotent (a redelivery carries the same id). */
export type LaunchTriggerKind = 'schedule' | 'event' | 'direct';

export interface LaunchTrigger {
  readonly kind: LaunchTriggerKind;
  readonly id: string;
  /** The fleet to launch for; absent means every fleet of the deployment. */
  readonly fleet?: string;
  /** Launch exactly this many more workers (bounded by the fleet's maxCapacity). */
  readonly count?: number;
  /** Bring the fleet to this many workers instead of its targetCapacity (bounded likewise). */
  readonly target?: number;
}

// Every schema is built when first used, not when the module loads (src/lazy.ts).
const fleetName = () => z.string().min(1).max(63);
const size = () => z.number().int().min(0).max(10_000);
const launchSize = () => ({ fleet: fleetName(), count: size().optional(), target: size().optional() });
const oneOfCountOrTarget = (value: { count?: number; target?: number }) =>
  value.count === undefined || value.target === undefined;
const countOrTargetMessage = { message: 'give count or target, not both' };

/** Sample: events/launch-schedule.json (an EventBridge rule's schedule, no input). */
const scheduledEventSchema = lazy(() =>
  z.object({
    'detail-type': z.literal(SCHEDULED_EVENT),
    source: z.literal('aws.events'),
    id: z.string().min(1),
  }),
);

/** Sample: events/launch-requested.json. */
const launchRequestedSchema = lazy(() =>
  z.object({
    'detail-type': z.literal(LAUNCH_REQUESTED),
    source: z.literal(EVENT_SOURCE),
    id: z.string().min(1),
    detail: z.strictObject(launchSize()).refine(oneOfCountOrTarget, countOrTargetMessage),
  }),
);

/**
 * Sample: events/launch-direct.json. Also the payload of an EventBridge Scheduler schedule, whose input can carry
 * `"requestId": "<aws.scheduler.execution-id>"`.
 */
const directInvocationSchema = lazy(() =>
  z
    .strictObject({
      ...launchSize(),
      fleet: fleetName().optional(),
      requestId: z.string().min(1).max(256).optional(),
    })
    .refine(oneOfCountOrTarget, countOrTargetMessage)
    .refine(
      (value) => value.fleet !== undefined || (value.count === undefined && value.target === undefined),
      {
        message: 'count and target need a fleet',
      },
    ),
);

/** Parses an event against its schema, or throws an InvalidEventError naming what was wrong. */
export function parseShape<T extends z.ZodType>(schema: T, event: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw new InvalidEventError(`malformed ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * Narrows any launch trigger. EventBridge events are dispatched on `detail-type`; an object without one is a direct
 * invocation, made idempotent by its `requestId` or else by the Lambda request id (kept across async retries).
 */
export function parseLaunchTrigger(event: unknown, invocationId: string): LaunchTrigger {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError('malformed launch request: expected a JSON object');
  }
  if (!('detail-type' in event)) {
    const { requestId, ...request } = parseShape(directInvocationSchema(), event, 'launch request');
    return { kind: 'direct', id: requestId ?? invocationId, ...request };
  }
  const detailType = event['detail-type'];
  switch (detailType) {
    case SCHEDULED_EVENT:
      return { kind: 'schedule', id: parseShape(scheduledEventSchema(), event, 'scheduled event').id };
    case LAUNCH_REQUESTED: {
      const { id, detail } = parseShape(launchRequestedSchema(), event, `"${LAUNCH_REQUESTED}" event`);
      return { kind: 'event', id, ...detail };
    }
    default:
      throw new InvalidEventError(
        `unsupported detail-type ${JSON.stringify(detailType)} for launching workers`,
      );
  }
}

export const SPOT_INTERRUPTION_WARNING = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE_RECOMMENDATION = 'EC2 Instance Rebalance Recommendation';
export const INSTANCE_STATE_CHANGE = 'EC2 Instance State-change Notification';
export const WORKER_DRAINING = 'Worker Draining';

/** Instance states the state-change rule delivers. */
export const WATCHED_STATES = ['shutting-down', 'terminated', 'stopping', 'stopped'] as const;

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const ec2Event = <T extends string, D extends z.ZodRawShape>(detailType: T, detail: D) =>
  z.object({
    'detail-type': z.literal(detailType),
    source: z.literal('aws.ec2'),
    id: z.string().min(1),
    time: z.iso.datetime({ offset: true }),
    detail: z.object({
      'instance-id': z.string().regex(INSTANCE_ID, 'must be an instance id (i-…)'),
      ...detail,
    }),
  });

/** Sample: events/spot-interruption-warning.json. */
const spotWarningSchema = lazy(() =>
  ec2Event(SPOT_INTERRUPTION_WARNING, {
    'instance-action': z.enum(['terminate', 'stop', 'hibernate']),
  }),
);
/** Sample: events/rebalance-recommendation.json. */
const rebalanceSchema = lazy(() => ec2Event(REBALANCE_RECOMMENDATION, {}));
/** Sample: events/instance-state-change-terminated.json. */
const stateChangeSchema = lazy(() => ec2Event(INSTANCE_STATE_CHANGE, { state: z.enum(WATCHED_STATES) }));

interface InstanceEventBase {
  /** The EventBridge event id (the same on a redelivery; a new warning for the same instance has a new one). */
  readonly id: string;
  readonly time: Date;
  readonly instanceId: string;
}

/** The EC2 events the interruption handler acts on, narrowed. */
export type InstanceEvent =
  | (InstanceEventBase & {
      readonly kind: 'spot-warning';
      readonly action: 'terminate' | 'stop' | 'hibernate';
    })
  | (InstanceEventBase & { readonly kind: 'rebalance' })
  | (InstanceEventBase & { readonly kind: 'state-change'; readonly state: (typeof WATCHED_STATES)[number] });

/** An EventBridge event's `detail-type`, or undefined for anything else. */
export function detailTypeOf(event: unknown): unknown {
  return typeof event === 'object' && event !== null
    ? (event as Record<string, unknown>)['detail-type']
    : undefined;
}

/** Narrows an EC2 event by `detail-type`; anything else is rejected with the type it had. */
export function parseInstanceEvent(event: unknown): InstanceEvent {
  const detailType = detailTypeOf(event);
  switch (detailType) {
    case SPOT_INTERRUPTION_WARNING: {
      const { id, time, detail } = parseShape(
        spotWarningSchema(),
        event,
        `"${SPOT_INTERRUPTION_WARNING}" event`,
      );
      return {
        kind: 'spot-warning',
        id,
        time: new Date(time),
        instanceId: detail['instance-id'],
        action: detail['instance-action'],
      };
    }
    case REBALANCE_RECOMMENDATION: {
      const { id, time, detail } = parseShape(
        rebalanceSchema(),
        event,
        `"${REBALANCE_RECOMMENDATION}" event`,
      );
      return { kind: 'rebalance', id, time: new Date(time), instanceId: detail['instance-id'] };
    }
    case INSTANCE_STATE_CHANGE: {
      const { id, time, detail } = parseShape(stateChangeSchema(), event, `"${INSTANCE_STATE_CHANGE}" event`);
      return {
        kind: 'state-change',
        id,
        time: new Date(time),
        instanceId: detail['instance-id'],
        state: detail.state,
      };
    }
    default:
      throw new InvalidEventError(
        `unsupported detail-type ${JSON.stringify(detailType)} for spot interruptions`,
      );
  }
}

/** For exhaustive switches: a value the types say cannot exist. */
export function assertNever(value: never): never {
  throw new InvalidEventError(`unexpected value ${JSON.stringify(value)}`);
}

/** What a reaper run is asked to do. */
export interface ReapTrigger {
  readonly fleet?: string;
  readonly dryRun?: boolean;
}

/** Sample: events/reap-direct.json (the schedule sends events/launch-schedule.json's shape). */
const reapDirectSchema = lazy(() =>
  z.strictObject({ fleet: fleetName().optional(), dryRun: z.boolean().optional() }),
);

/** Narrows a reaper trigger: its schedule (every fleet) or a direct invocation naming a fleet and dry run. */
export function parseReapTrigger(event: unknown): ReapTrigger {
  if (typeof event === 'object' && event !== null && 'detail-type' in event) {
    parseShape(scheduledEventSchema(), event, 'scheduled event');
    return {};
  }
  return parseShape(reapDirectSchema(), event, 'reap request');
}
