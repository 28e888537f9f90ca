import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notification } from '../model/notification';

/** SNS caps subjects at 100 characters. */
export const MAX_SUBJECT = 100;
/** SNS caps a message at 256 KB, attributes included; keep a margin for them. */
export const MAX_MESSAGE_BYTES = 250 * 1024;

/**
 * The notification body as JSON, within SNS's size limit: when it would be too long (thousands of workers in one
 * run), each list keeps its first entries, with `<name>Count` giving the full length and `truncated: true`.
 */
export function messageBody(body: Readonly<Record<string, unknown>>): string {
  let text = JSON.stringify(body, null, 2);
  for (
    let keep = 1000;
    Buffer.byteLength(text) > MAX_MESSAGE_BYTES && keep >= 1;
    keep = Math.floor(keep / 2)
  ) {
    const trimmed: Record<string, unknown> = { truncated: true };
    for (const [key, value] of Object.entries(body)) {
      if (Array.isArray(value) && value.length > keep) {
        trimmed[key] = value.slice(0, keep);
        trimmed[`${key}Count`] = value.length;
      } else trimmed[key] = value;
    }
    text = JSON.stringify(trimmed);
  }
  return text;
}

/** Publishes one notification: a readable subject, a JSON body, and `kind`/`fleet` attributes for filtering. */
export async function publishNotification(sns: SNSClient, topicArn: string, notification: Notification) {
  const { kind, fleet, subject, details } = notification;
  const output = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: subject.slice(0, MAX_SUBJECT),
      Message: messageBody({ kind, fleet, ...details }),
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: kind },
        ...(fleet === undefined ? {} : { fleet: { DataType: 'String', StringValue: fleet } }),
      },
    }),
  );
  return output.MessageId;
}
