import type { Logger } from '@aws-lambda-powertools/logger';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { putNotificationEvent } from '../aws/notification-event';
import type { MetricsSink } from '../model/fleet-metrics';
import { NO_FLEET } from '../model/fleet-metrics';
import type { Notification } from '../model/notification';

/**
 * Puts a notification that is already on the topic on the bus too: the copy is a step of its own, recorded apart
 * from the SNS message, so that a retry puts the copy and never publishes the message again. A put that fails after
 * the SDK's retries is counted (`NotificationEventsFailed`, alarmed) and thrown: the delivery fails, and its retry
 * puts the copy again.
 */
export async function copyNotification(
  deps: { readonly events: EventBridgeClient; readonly metrics: MetricsSink; readonly logger: Logger },
  notification: Notification,
): Promise<void> {
  try {
    await putNotificationEvent(deps.events, notification);
  } catch (error) {
    const fleet = notification.fleet ?? NO_FLEET;
    deps.metrics.add('NotificationEventsFailed', 1, { fleet });
    deps.logger.error('notification event not put, left for the retry', {
      fleet,
      kind: notification.kind,
      correlationId: notification.details.correlationId,
      error,
    });
    throw error;
  }
}
