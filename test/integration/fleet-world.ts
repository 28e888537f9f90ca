import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type SeededAccount, seedAccount } from '../../local/account';
import type { Emulator } from '../../local/emulator';
import { type Config, loadConfig } from '../../src/config';
import type { LaunchWorkersDependencies } from '../../src/fleet/launch-workers';
import { logger } from '../../src/logger';
import { clientConfig } from './use-emulator';

/** An SNS notification as a subscriber receives it. */
export interface ReceivedNotification {
  readonly subject: string;
  readonly kind: string;
  readonly fleet: string;
  readonly body: Record<string, unknown>;
}

/**
 * An account as a user would have it before deploying worker-fleet's launcher: default VPC subnets, an AMI, a key
 * pair, a security group, the worker instance profile and the fleet topic (with a queue subscribed, to read back).
 */
export interface FleetWorld extends SeededAccount {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly sns: SNSClient;
  readonly instanceProfileArn: string;
  readonly topicArn: string;
  /** Builds the launcher's dependencies for these fleets (JSON specs, as in WORKER_FLEET_FLEETS). */
  deps(fleets: Record<string, unknown>): LaunchWorkersDependencies;
  config(fleets: Record<string, unknown>): Config;
  /** Every notification published since the world was made (drains the subscribed queue). */
  notifications(): Promise<ReceivedNotification[]>;
  /** Instances as the emulator describes them, optionally only those carrying a tag value. */
  instances(filter?: { tag: string; value: string }): Promise<Instance[]>;
}

export async function createFleetWorld(emulator: Emulator): Promise<FleetWorld> {
  const settings = clientConfig(emulator);
  const ec2 = new EC2Client(settings);
  const ssm = new SSMClient(settings);
  const sns = new SNSClient(settings);
  const iam = new IAMClient(settings);
  const sqs = new SQSClient(settings);

  const { imageId, subnets, keyName, securityGroupId } = await seedAccount(ec2);

  await iam.send(
    new CreateRoleCommand({
      RoleName: 'worker-fleet-test-worker',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  const profile = await iam.send(
    new CreateInstanceProfileCommand({ InstanceProfileName: 'worker-fleet-test-worker' }),
  );
  await iam.send(
    new AddRoleToInstanceProfileCommand({
      InstanceProfileName: 'worker-fleet-test-worker',
      RoleName: 'worker-fleet-test-worker',
    }),
  );
  const instanceProfileArn = profile.InstanceProfile?.Arn ?? '';

  const topic = await sns.send(new CreateTopicCommand({ Name: 'worker-fleet-test' }));
  const topicArn = topic.TopicArn ?? '';
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'worker-fleet-test-notifications' }));
  const queueUrl = queue.QueueUrl ?? '';
  const queueAttributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queueAttributes.Attributes?.QueueArn,
    }),
  );
  const received: ReceivedNotification[] = [];

  const config = (fleets: Record<string, unknown>) =>
    loadConfig({
      WORKER_FLEET_STAGE: 'test',
      WORKER_FLEET_FLEETS: JSON.stringify(fleets),
      WORKER_FLEET_INSTANCE_PROFILE_ARN: instanceProfileArn,
      WORKER_FLEET_TOPIC_ARN: topicArn,
    });

  return {
    ec2,
    ssm,
    sns,
    imageId,
    subnets,
    keyName,
    securityGroupId,
    instanceProfileArn,
    topicArn,
    config,
    deps: (fleets) => ({ ec2, ssm, sns, logger, config: config(fleets) }),
    async notifications() {
      for (;;) {
        const batch = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        const messages = batch.Messages ?? [];
        if (messages.length === 0) return received;
        for (const message of messages) {
          const envelope = JSON.parse(message.Body ?? '{}') as {
            Subject: string;
            Message: string;
            MessageAttributes: Record<string, { Value: string }>;
          };
          received.push({
            subject: envelope.Subject,
            kind: envelope.MessageAttributes.kind?.Value ?? '',
            fleet: envelope.MessageAttributes.fleet?.Value ?? '',
            body: JSON.parse(envelope.Message) as Record<string, unknown>,
          });
        }
        // Received messages stay hidden for the visibility timeout, so the loop ends when the queue is drained.
      }
    },
    async instances(filter) {
      const output = await ec2.send(
        new DescribeInstancesCommand({
          Filters: filter === undefined ? undefined : [{ Name: `tag:${filter.tag}`, Values: [filter.value] }],
        }),
      );
      return (output.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    },
  };
}
