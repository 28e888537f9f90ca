import { DescribeInstanceStatusCommand, type EC2Client } from '@aws-sdk/client-ec2';

/** The scheduled event codes a worker is retired for (every code EC2 schedules). */
export const SCHEDULED_EVENT_CODES = [
  'instance-retirement',
  'instance-stop',
  'instance-reboot',
  'system-reboot',
  'system-maintenance',
] as const;

/** One scheduled event EC2 lists for an instance. */
export interface InstanceScheduledEvent {
  readonly instanceId: string;
  /** `instance-event-…`: the same event keeps its id when EC2 lists it again. */
  readonly eventId: string;
  readonly code: (typeof SCHEDULED_EVENT_CODES)[number];
  /** The earliest time the event may start. */
  readonly notBefore: Date;
  readonly description?: string;
}

/** DescribeInstanceStatus takes at most 100 instance ids a call. */
const IDS_PER_CALL = 100;
const INSTANCE_NOT_FOUND = 'InvalidInstanceID.NotFound';

/**
 * The scheduled events EC2 lists for these instances (DescribeInstanceStatus with IncludeAllInstances, 100 ids a
 * call; an id EC2 does not know makes it refuse the call, which is then asked one id at a time). Events EC2 marks
 * `[Completed]` or `[Canceled]` in their description are over, and left out.
 */
export async function listScheduledEvents(
  ec2: EC2Client,
  instanceIds: readonly string[],
): Promise<InstanceScheduledEvent[]> {
  const events: InstanceScheduledEvent[] = [];
  const ask = async (ids: readonly string[]) => {
    const output = await ec2.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [...ids], IncludeAllInstances: true }),
    );
    for (const status of output.InstanceStatuses ?? []) {
      for (const event of status.Events ?? []) {
        const code = SCHEDULED_EVENT_CODES.find((known) => known === event.Code);
        if (code === undefined || event.NotBefore === undefined || event.InstanceEventId === undefined)
          continue;
        if (/^\[(Completed|Canceled)\]/.test(event.Description ?? '')) continue;
        events.push({
          instanceId: status.InstanceId ?? '',
          eventId: event.InstanceEventId,
          code,
          notBefore: event.NotBefore,
          ...(event.Description === undefined ? {} : { description: event.Description }),
        });
      }
    }
  };
  for (let start = 0; start < instanceIds.length; start += IDS_PER_CALL) {
    const batch = instanceIds.slice(start, start + IDS_PER_CALL);
    try {
      await ask(batch);
    } catch (error) {
      if (!(error instanceof Error && error.name === INSTANCE_NOT_FOUND)) throw error;
      for (const instanceId of batch) {
        await ask([instanceId]).catch((failure: unknown) => {
          if (!(failure instanceof Error && failure.name === INSTANCE_NOT_FOUND)) throw failure;
        });
      }
    }
  }
  return events;
}
