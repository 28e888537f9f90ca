import * as z from 'zod';
import { InvalidEventError } from '../errors';
import { detailTypeOf, parseShape } from './parse';

export const SPOT_INTERRUPTION_WARNING = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE_RECOMMENDATION = 'EC2 Instance Rebalance Recommendation';
export const INSTANCE_STATE_CHANGE = 'EC2 Instance State-change Notification';

/** Instance states the state-change rule delivers. */
export const WATCHED_STATES = ['shutting-down', 'terminated', 'stopping', 'stopped'] as const;

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const ec2Event = <T extends string, D extends z.ZodRawShape>(detailType: T, detail: D) =>
  z.object({
    'detail-type': z.literal(detailType),
    source: z.literal('aws.ec2'),
    id: z.string().min(1),
    time: z.iso.datetime({ offset: true }),
    region: z.string().min(1).optional(),
    detail: z.object({
      'instance-id': z.string().regex(INSTANCE_ID, 'must be an instance id (i-…)'),
      ...detail,
    }),
  });

/** Sample: events/spot-interruption-warning.json. */
const spotWarningSchema = ec2Event(SPOT_INTERRUPTION_WARNING, {
  'instance-action': z.enum(['terminate', 'stop', 'hibernate']),
});
/** Sample: events/rebalance-recommendation.json. */
const rebalanceSchema = ec2Event(REBALANCE_RECOMMENDATION, {});
/** Sample: events/instance-state-change-terminated.json. */
const stateChangeSchema = ec2Event(INSTANCE_STATE_CHANGE, { state: z.enum(WATCHED_STATES) });

interface InstanceEventBase {
  /** The EventBridge event id (the same on a redelivery; a new warning for the same instance has a new one). */
  readonly id: string;
  readonly time: Date;
  readonly instanceId: string;
  /** The region the event comes from (absent in hand-made events). */
  readonly region?: string;
}

/** The EC2 events the interruption handler acts on, narrowed. */
export type InstanceEvent =
  | (InstanceEventBase & {
      readonly kind: 'spot-warning';
      readonly action: 'terminate' | 'stop' | 'hibernate';
    })
  | (InstanceEventBase & { readonly kind: 'rebalance' })
  | (InstanceEventBase & { readonly kind: 'state-change'; readonly state: (typeof WATCHED_STATES)[number] });

/** Narrows an EC2 event by `detail-type`; anything else is rejected with the type it had. */
export function parseInstanceEvent(event: unknown): InstanceEvent {
  const detailType = detailTypeOf(event);
  switch (detailType) {
    case SPOT_INTERRUPTION_WARNING: {
      const { id, time, region, detail } = parseShape(
        spotWarningSchema,
        event,
        `"${SPOT_INTERRUPTION_WARNING}" event`,
      );
      return {
        kind: 'spot-warning',
        id,
        time: new Date(time),
        region,
        instanceId: detail['instance-id'],
        action: detail['instance-action'],
      };
    }
    case REBALANCE_RECOMMENDATION: {
      const { id, time, region, detail } = parseShape(
        rebalanceSchema,
        event,
        `"${REBALANCE_RECOMMENDATION}" event`,
      );
      return { kind: 'rebalance', id, time: new Date(time), region, instanceId: detail['instance-id'] };
    }
    case INSTANCE_STATE_CHANGE: {
      const { id, time, region, detail } = parseShape(
        stateChangeSchema,
        event,
        `"${INSTANCE_STATE_CHANGE}" event`,
      );
      return {
        kind: 'state-change',
        id,
        time: new Date(time),
        region,
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
