import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

/** The kinds of notification worker-fleet publishes; subscribers filter on the `kind` message attribute. */
export type NotificationKind =
  | 'launch'
  | 'launch-failed'
  | 'spot-interruption'
  | 'rebalance-recommendation'
  | 'replacement'
  | 'idle-warning'
  | 'idle-terminated'
  | 'idle-dry-run';

export interface Notification {
  readonly kind: NotificationKind;
  readonly fleet: string;
  readonly subject: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** SNS caps subjects at 100 characters. */
const MAX_SUBJECT = 100;

/** Publishes one notification: a readable subject, a JSON body, and `kind`/`fleet` attributes for filtering. */
export async function publishNotification(sns: SNSClient, topicArn: string, notification: Notification) {
  const { kind, fleet, subject, details } = notification;
  const output = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: subject.slice(0, MAX_SUBJECT),
      Message: JSON.stringify({ kind, fleet, ...details }, null, 2),
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: kind },
        fleet: { DataType: 'String', StringValue: fleet },
      },
    }),
  );
  return output.MessageId;
}
