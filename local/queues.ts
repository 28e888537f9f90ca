/**
 * SQS queues as the local tools' window on what AWS delivers: what a rule matches, what a topic publishes. Used by
 * the sandbox's event router and by the integration tests.
 */
import { type EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface Queue {
  readonly url: string;
  readonly arn: string;
}

export async function createQueue(sqs: SQSClient, name: string): Promise<Queue> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const url = created.QueueUrl ?? '';
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  return { url, arn: attributes.Attributes?.QueueArn ?? '' };
}

/** Every message waiting in a queue, removed from it; bodies as sent. */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return bodies;
    bodies.push(...messages.map((message) => message.Body ?? ''));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((message, n) => ({
          Id: String(n),
          ReceiptHandle: message.ReceiptHandle ?? '',
        })),
      }),
    );
  }
}

/** A new rule named `name` on the default bus whose matches land in a new queue of the same name. */
export async function ruleToQueue(
  events: EventBridgeClient,
  sqs: SQSClient,
  name: string,
  pattern: unknown,
): Promise<Queue> {
  const queue = await createQueue(sqs, name);
  await events.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern) }));
  await events.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'queue', Arn: queue.arn }] }));
  return queue;
}
