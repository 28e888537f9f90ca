import * as z from 'zod';
import { InvalidEventError } from '../errors';
import { parseShape } from './parse';

export const HEALTH_EVENT = 'AWS Health Event';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/**
 * AWS Health's dates: RFC 1123 (`Sat, 05 Dec 2026 12:00:00 GMT`; the day may have one digit, `Fri, 3 Jun 2022`).
 * The weekday is not checked: AWS's own samples carry weekdays that do not match their dates.
 */
const RFC_1123 =
  /^(?:[A-Z][a-z]{2},\s*)?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UTC|[+-]\d{4})$/;

/** A Health date as a Date: RFC 1123 as AWS sends it, or ISO 8601 as some forwarders rewrite it; undefined otherwise. */
export function parseHealthTime(text: string): Date | undefined {
  const match = RFC_1123.exec(text.trim());
  if (match === null) {
    if (!z.iso.datetime({ offset: true }).safeParse(text).success) return undefined;
    return new Date(text);
  }
  const [, day, month, year, hours, minutes, seconds, zone = 'GMT'] = match;
  const monthIndex = MONTHS.indexOf(month ?? '');
  if (monthIndex < 0) return undefined;
  const offset = /^[+-]/.test(zone)
    ? (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3)))
    : 0;
  const utc = Date.UTC(
    Number(year),
    monthIndex,
    Number(day),
    Number(hours),
    Number(minutes),
    Number(seconds),
  );
  const date = new Date(utc - offset * 60_000);
  // 31 Feb is no date, nor 12:60: Date.UTC would roll either into the next month or hour.
  const inRange = Number(hours) < 24 && Number(minutes) < 60 && Number(seconds) < 60;
  return new Date(utc).getUTCDate() === Number(day) && inRange ? date : undefined;
}

const healthTime = () =>
  z.string().refine((text) => parseHealthTime(text) !== undefined, {
    message: 'must be a date as AWS Health sends it (RFC 1123, "Sat, 05 Dec 2026 12:00:00 GMT")',
  });

/** An instance as a Health event names it: its id, or its ARN (`arn:aws:ec2:<region>:<account>:instance/i-…`). */
const INSTANCE = /^(?:arn:aws[a-z-]*:ec2:[a-z0-9-]*:\d*:instance\/)?(i-(?:[0-9a-f]{8}|[0-9a-f]{17}))$/;

/**
 * Samples: events/health-scheduled-change.json (AWS's documented EC2 instance retirement, naming two workers),
 * events/health-scheduled-change-nth.json (aws-node-termination-handler's test event: no `eventRegion`, no
 * `statusCode`, a start in the past). Unknown fields (`eventMetadata`, `page`, `personas`…) are allowed: AWS adds them.
 */
const healthEventSchema = z.object({
  'detail-type': z.literal(HEALTH_EVENT),
  source: z.literal('aws.health'),
  id: z.string().min(1),
  time: z.iso.datetime({ offset: true }).optional(),
  region: z.string().min(1).optional(),
  resources: z.array(z.string()).optional(),
  detail: z.object({
    eventArn: z.string().min(1),
    service: z.literal('EC2'),
    eventTypeCode: z.string().min(1),
    eventTypeCategory: z.literal('scheduledChange'),
    startTime: healthTime(),
    endTime: healthTime().optional(),
    statusCode: z.enum(['open', 'upcoming', 'closed']).optional(),
    eventRegion: z.string().min(1).optional(),
    eventDescription: z
      .array(z.object({ language: z.string().optional(), latestDescription: z.string() }))
      .optional(),
    affectedEntities: z
      .array(z.object({ entityValue: z.string().min(1), status: z.string().optional() }))
      .optional(),
  }),
});

/** An AWS Health scheduled change for EC2, narrowed: the instances it names and when it begins. */
export interface HealthScheduledChange {
  /** The EventBridge event's id (the same on a redelivery). */
  readonly id: string;
  /** The Health event's ARN: with an instance, what makes a record of it unique. */
  readonly eventArn: string;
  /** `AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED`, `AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED`, … */
  readonly code: string;
  /** The region the change happens in: `detail.eventRegion`, else the region the event was delivered to. */
  readonly region?: string;
  /** When the change may begin: days ahead, or already past (neither is stale). */
  readonly startsAt: Date;
  readonly description?: string;
  /** Each instance named, and whether its change is over (the event `closed`, or the entity `RESOLVED`). */
  readonly instances: readonly { readonly instanceId: string; readonly closed: boolean }[];
}

/**
 * Narrows an AWS Health event about an EC2 scheduled change. Its instances are its affected entities (ids or ARNs;
 * other entities, such as a dedicated host, are left out), else its `resources`. Anything else is refused, naming
 * what was wrong.
 */
export function parseHealthEvent(event: unknown): HealthScheduledChange {
  const { id, region, resources, detail } = parseShape(
    healthEventSchema,
    event,
    `"${HEALTH_EVENT}" scheduled change`,
  );
  const eventClosed = detail.statusCode === 'closed';
  const entities = detail.affectedEntities ?? [];
  const named =
    entities.length > 0
      ? entities.map(({ entityValue, status }) => ({ value: entityValue, resolved: status === 'RESOLVED' }))
      : (resources ?? []).map((value) => ({ value, resolved: false }));
  const instances = new Map<string, boolean>();
  for (const { value, resolved } of named) {
    const instanceId = INSTANCE.exec(value)?.[1];
    if (instanceId !== undefined) instances.set(instanceId, eventClosed || resolved);
  }
  const startsAt = parseHealthTime(detail.startTime);
  if (startsAt === undefined) throw new InvalidEventError('malformed Health event: startTime');
  const description = detail.eventDescription?.[0]?.latestDescription;
  return {
    id,
    eventArn: detail.eventArn,
    code: detail.eventTypeCode,
    ...((detail.eventRegion ?? region) === undefined ? {} : { region: detail.eventRegion ?? region }),
    startsAt,
    ...(description === undefined ? {} : { description }),
    instances: [...instances].map(([instanceId, closed]) => ({ instanceId, closed })),
  };
}
