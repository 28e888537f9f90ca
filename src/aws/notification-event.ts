import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { EVENT_SOURCE, NOTIFICATION_DETAIL_TYPES, type Notification } from '../model/notification';
import { MAX_SUBJECT, messageBody, publishNotification } from './notify';

/**
 * Puts one notification on the default bus as an event: source `worker-fleet`, the kind's detail-type, and the SNS
 * message's fields (its subject too) as the detail. A rejected entry is an error. Kept apart from notify.ts so that
 * the spot warning's first step, which publishes to SNS only, never loads the EventBridge client.
 */
export async function putNotificationEvent(
  events: EventBridgeClient,
  notification: Notification,
): Promise<void> {
  const { kind, fleet, subject, details } = notification;
  const detailType = NOTIFICATION_DETAIL_TYPES[kind];
  const output = await events.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: EVENT_SOURCE,
          DetailType: detailType,
          Detail: messageBody({ kind, fleet, subject: subject.slice(0, MAX_SUBJECT), ...details }),
          Resources: [],
        },
      ],
    }),
  );
  if ((output.FailedEntryCount ?? 0) > 0) {
    const entry = output.Entries?.[0];
    throw new Error(`${detailType} event rejected: ${entry?.ErrorCode} ${entry?.ErrorMessage}`);
  }
}

/** The clients a notification goes out with. */
export interface NotifyClients {
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
}

/**
 * Tells one notification everywhere: the topic and the bus at once (neither waits for the other). Both are waited
 * for, then the first failure is thrown: a retry tells it again, everywhere.
 */
export async function notify(
  clients: NotifyClients,
  topicArn: string,
  notification: Notification,
): Promise<void> {
  const outcomes = await Promise.allSettled([
    publishNotification(clients.sns, topicArn, notification),
    putNotificationEvent(clients.events, notification),
  ]);
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
