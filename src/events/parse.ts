import * as z from 'zod';
import { InvalidEventError } from '../errors';
import { describeIssues } from '../model/validation';

/** A fleet's name as a request may give it; whether the deployment manages it is the core's question. */
export const fleetName = () => z.string().min(1).max(63);

export const SCHEDULED_EVENT = 'Scheduled Event';

/**
 * A schedule that sends its own event (no input of ours). Samples: events/launch-schedule.json (an EventBridge rule's
 * schedule: `source: aws.events`) and events/scheduler-schedule.json (an EventBridge Scheduler schedule without an
 * Input: `source: aws.scheduler`, `detail` the string "{}"). `detail` carries nothing either way, so it is not read.
 */
export const scheduledEventSchema = z.object({
  'detail-type': z.literal(SCHEDULED_EVENT),
  source: z.enum(['aws.events', 'aws.scheduler']),
  id: z.string().min(1),
  time: z.iso.datetime({ offset: true }).optional(),
});

/** Parses an event against its schema, or throws an InvalidEventError naming what was wrong. */
export function parseShape<T extends z.ZodType>(schema: T, event: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw new InvalidEventError(`malformed ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** An EventBridge event's `detail-type`, or undefined for anything else. */
export function detailTypeOf(event: unknown): unknown {
  return typeof event === 'object' && event !== null
    ? (event as Record<string, unknown>)['detail-type']
    : undefined;
}

/** For exhaustive switches: a value the types say cannot exist. */
export function assertNever(value: never): never {
  throw new InvalidEventError(`unexpected value ${JSON.stringify(value)}`);
}
