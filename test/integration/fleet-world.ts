import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type SeededAccount, seedAccount } from '../../local/account';
import { deploymentEnv } from '../../local/deployment-env';
import type { Emulator } from '../../local/emulator';
import { createQueue, drainQueue, ruleToQueue } from '../../local/queues';
import { CallCounter, countCalls } from '../../src/aws/call-counter';
import { type Config, loadConfig } from '../../src/config';
import type { LaunchWorkersDependencies } from '../../src/fleet/launch-workers';
import type { ReapDependencies } from '../../src/fleet/reap-idle-workers';
import type { InterruptionDependencies } from '../../src/fleet/spot-interruption';
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
  readonly s3: S3Client;
  readonly stateBucket: string;
  readonly fleetBucket: string;
  readonly logBucket: string;
  readonly workerRoleName: string;
  readonly instanceProfile: string;
  readonly topicArn: string;
  /** Builds the launcher's dependencies for these fleets (JSON specs, as in WORKER_FLEET_FLEETS). */
  deps(fleets: Record<string, unknown>): LaunchWorkersDependencies;
  /** The interruption handler's dependencies, with a clock the test controls (defaults to the real one). */
  interruptionDeps(fleets: Record<string, unknown>, now?: () => Date): InterruptionDependencies;
  /** The idle reaper's dependencies, with a clock the test controls and its AWS calls counted. */
  reapDeps(fleets: Record<string, unknown>, now: () => Date, env?: Record<string, string>): ReapDependencies;
  readonly cloudwatch: CloudWatchClient;
  config(fleets: Record<string, unknown>, env?: Record<string, string>): Config;
  /** The environment a deployed function runs with (WORKER_FLEET_*), for these fleets. */
  env(fleets: Record<string, unknown>): Record<string, string>;
  /** Every notification published since the world was made (drains the subscribed queue). */
  notifications(): Promise<ReceivedNotification[]>;
  /** Every `Worker Draining` event put on the default bus since the world was made (their `detail`). */
  drainingEvents(): Promise<Record<string, unknown>[]>;
  /** Keys in the state bucket. */
  stateKeys(): Promise<string[]>;
  /** A JSON document of the state bucket, or undefined when there is none. */
  stateObject(key: string): Promise<unknown>;
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
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  const cloudwatch = new CloudWatchClient(settings);
  const stateBucket = 'worker-fleet-test-state';
  const fleetBucket = 'worker-fleet-test-fleet';
  const logBucket = 'worker-fleet-test-logs';
  for (const Bucket of [stateBucket, fleetBucket, logBucket])
    await s3.send(new CreateBucketCommand({ Bucket }));

  const { imageId, subnets, keyName, securityGroupId } = await seedAccount(ec2);

  const role = await iam.send(
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
  const instanceProfile = profile.InstanceProfile?.InstanceProfileName ?? '';

  const topic = await sns.send(new CreateTopicCommand({ Name: 'worker-fleet-test' }));
  const topicArn = topic.TopicArn ?? '';
  const events = new EventBridgeClient(settings);
  const drain = (url: string) => drainQueue(sqs, url);
  const notificationQueue = await createQueue(sqs, 'worker-fleet-test-notifications');
  await sns.send(
    new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: notificationQueue.arn }),
  );
  const drainingQueue = await ruleToQueue(events, sqs, 'worker-draining-to-queue', {
    source: ['worker-fleet'],
    'detail-type': ['Worker Draining'],
  });
  const received: ReceivedNotification[] = [];
  const draining: Record<string, unknown>[] = [];

  /** The environment a deployed function runs with, for these fleets. */
  const env = (fleets: Record<string, unknown>): Record<string, string> =>
    deploymentEnv(
      {
        stage: 'test',
        instanceProfile,
        topicArn,
        stateBucket,
        fleetBucket,
        logBucket,
        workerRole: 'worker-fleet-test-worker',
        workerRoleId: role.Role?.RoleId ?? '',
      },
      fleets,
    );
  const config = (fleets: Record<string, unknown>, overrides: Record<string, string> = {}) =>
    loadConfig({ ...overrides, ...env(fleets), AWS_REGION: 'us-east-1' });

  return {
    ec2,
    ssm,
    sns,
    s3,
    stateBucket,
    fleetBucket,
    logBucket,
    workerRoleName: 'worker-fleet-test-worker',
    imageId,
    subnets,
    keyName,
    securityGroupId,
    instanceProfile,
    topicArn,
    env,
    config,
    deps: (fleets) => ({ ec2, ssm, sns, s3, logger, config: config(fleets), now: () => new Date() }),
    cloudwatch,
    reapDeps: (fleets, now, env = {}) => {
      const calls = new CallCounter();
      return {
        ec2: countCalls(new EC2Client(settings), calls),
        s3: countCalls(new S3Client({ ...settings, forcePathStyle: true }), calls),
        cloudwatch: countCalls(new CloudWatchClient(settings), calls),
        sns: countCalls(new SNSClient(settings), calls),
        logger,
        config: config(fleets, env),
        now,
        calls,
      };
    },
    interruptionDeps: (fleets, now = () => new Date()) => ({
      ec2,
      ssm,
      sns,
      s3,
      events,
      logger,
      config: config(fleets),
      now,
    }),
    async notifications() {
      for (const body of await drain(notificationQueue.url)) {
        const envelope = JSON.parse(body) as {
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
      return received;
    },
    async drainingEvents() {
      for (const body of await drain(drainingQueue.url)) {
        draining.push((JSON.parse(body) as { detail: Record<string, unknown> }).detail);
      }
      return draining;
    },
    async stateKeys() {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: stateBucket }));
      return (listed.Contents ?? []).map((object) => object.Key ?? '');
    },
    async stateObject(key) {
      const found = await s3
        .send(new GetObjectCommand({ Bucket: stateBucket, Key: key }))
        .catch((error: Error) => (error.name === 'NoSuchKey' ? undefined : Promise.reject(error)));
      return found === undefined ? undefined : JSON.parse((await found.Body?.transformToString()) ?? '');
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
