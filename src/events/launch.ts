import * as z from 'zod';
import { InvalidEventError } from '../errors';
import { EVENT_SOURCE } from '../model/notification';
import { HEALTH_EVENT, type HealthScheduledChange, parseHealthEvent } from './health';
import { detailTypeOf, fleetName, parseShape, SCHEDULED_EVENT, scheduledEventSchema } from './parse';

export const LAUNCH_REQUESTED = 'Launch Workers Requested';

/**
 * What caused a launch, and the id that makes it idempotent (a redelivery carries the same id). `reconcile` asks
 * nothing of the fleets' sizes: the fleets are reconciled with the facts they have (the reconcile schedule).
 */
export type LaunchTriggerKind = 'schedule' | 'event' | 'direct' | 'reconcile';

export interface LaunchTrigger {
  readonly kind: LaunchTriggerKind;
  readonly id: string;
  /** The fleet to launch for; absent means every fleet of the deployment. */
  readonly fleet?: string;
  /** Launch exactly this many more workers (bounded by the fleet's maxCapacity). */
  readonly count?: number;
  /** Bring the fleet to this many workers instead of its targetCapacity (bounded likewise). */
  readonly target?: number;
  /** When the trigger happened (an EventBridge event's `time`): targets delivered out of order are told apart by it. */
  readonly time?: Date;
}

const size = () => z.number().int().min(0).max(10_000);
const launchSize = () => ({ fleet: fleetName(), count: size().optional(), target: size().optional() });
const oneOfCountOrTarget = (value: { count?: number; target?: number }) =>
  value.count === undefined || value.target === undefined;
const countOrTargetMessage = { message: 'give count or target, not both' };

/** Sample: events/launch-requested.json. */
const launchRequestedSchema = z.object({
  'detail-type': z.literal(LAUNCH_REQUESTED),
  source: z.literal(EVENT_SOURCE),
  id: z.string().min(1),
  time: z.iso.datetime({ offset: true }).optional(),
  detail: z.strictObject(launchSize()).refine(oneOfCountOrTarget, countOrTargetMessage),
});

/**
 * Sample: events/launch-direct.json. Also the payload of an EventBridge Scheduler schedule, whose input can carry
 * `"requestId": "<aws.scheduler.execution-id>"`.
 */
const directInvocationSchema = z
  .strictObject({
    ...launchSize(),
    fleet: fleetName().optional(),
    requestId: z.string().min(1).max(256).optional(),
  })
  .refine(oneOfCountOrTarget, countOrTargetMessage)
  .refine((value) => value.fleet !== undefined || (value.count === undefined && value.target === undefined), {
    message: 'count and target need a fleet',
  });

/** Sample: events/reconcile-tick.json (the reconcile schedule's input). */
const reconcileSchema = z.strictObject({ reconcile: z.literal(true), fleet: fleetName().optional() });

/**
 * Narrows any launch trigger. EventBridge events are dispatched on `detail-type`; an object without one is a direct
 * invocation, made idempotent by its `requestId` or else by the Lambda request id (kept across async retries).
 */
export function parseLaunchTrigger(event: unknown, invocationId: string): LaunchTrigger {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError('malformed launch request: expected a JSON object');
  }
  if (!('detail-type' in event)) {
    if ('reconcile' in event) {
      const { fleet } = parseShape(reconcileSchema, event, 'reconcile request');
      return { kind: 'reconcile', id: invocationId, ...(fleet === undefined ? {} : { fleet }) };
    }
    const { requestId, ...request } = parseShape(directInvocationSchema, event, 'launch request');
    return { kind: 'direct', id: requestId ?? invocationId, ...request };
  }
  const detailType = event['detail-type'];
  switch (detailType) {
    case SCHEDULED_EVENT: {
      const { id, time } = parseShape(scheduledEventSchema, event, 'scheduled event');
      return { kind: 'schedule', id, ...(time === undefined ? {} : { time: new Date(time) }) };
    }
    case LAUNCH_REQUESTED: {
      const { id, time, detail } = parseShape(launchRequestedSchema, event, `"${LAUNCH_REQUESTED}" event`);
      return { kind: 'event', id, ...detail, ...(time === undefined ? {} : { time: new Date(time) }) };
    }
    default:
      throw new InvalidEventError(
        `unsupported detail-type ${JSON.stringify(detailType)} for launching workers`,
      );
  }
}

/** What one invocation of the launcher's function is: a launch trigger, or an AWS Health scheduled change to record. */
export type LauncherInvocation =
  | { readonly kind: 'launch'; readonly trigger: LaunchTrigger }
  | { readonly kind: 'scheduled-change'; readonly change: HealthScheduledChange };

/** Narrows what the launcher's function is invoked with: an AWS Health event (events/health-*.json), or a trigger. */
export function parseLauncherInvocation(event: unknown, invocationId: string): LauncherInvocation {
  if (detailTypeOf(event) === HEALTH_EVENT)
    return { kind: 'scheduled-change', change: parseHealthEvent(event) };
  return { kind: 'launch', trigger: parseLaunchTrigger(event, invocationId) };
}
