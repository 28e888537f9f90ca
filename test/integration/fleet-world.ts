import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { EC2Client, type Instance, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type SeededAccount, seedAccount } from '../../local/account';
import { configWithFleets, deploymentEnv } from '../../local/deployment-env';
import { type Emulator, OBSERVER_HEADER } from '../../local/emulator';
import { createQueue, drainQueue, ruleToQueue } from '../../local/queues';
import { createStateTable } from '../../local/state-table';
import { CallCounter, countCalls } from '../../src/aws/call-counter';
import { toWorker } from '../../src/aws/ec2-workers';
import { headFleetConfig, writeFleetConfig } from '../../src/aws/fleet-config-store';
import { createFleetStateTable } from '../../src/aws/fleet-state-table';
import type { Config } from '../../src/config';
import type { LaunchWorkersDependencies } from '../../src/fleet/launch-workers';
import type { ReapDependencies } from '../../src/fleet/reap-idle-workers';
import type { InterruptionDependencies } from '../../src/fleet/spot-interruption';
import { logger } from '../../src/logger';
import type { FleetMetricName, MetricDimensions, MetricsSink } from '../../src/model/fleet-metrics';
import type { FleetState } from '../../src/model/fleet-state';
import { NOTIFICATION_DETAIL_TYPES } from '../../src/model/notification';
import { replacedInstance } from '../../src/model/worker';
import { clientConfig } from './use-emulator';

/** An SNS notification as a subscriber receives it. */
export interface ReceivedNotification {
  readonly subject: string;
  readonly kind: string;
  readonly fleet: string;
  readonly body: Record<string, unknown>;
}

/** A metrics sink that keeps every value the core gives it, in order. */
export class RecordedMetrics implements MetricsSink {
  readonly values: { name: FleetMetricName; value: number; dimensions: MetricDimensions }[] = [];

  add(name: FleetMetricName, value: number, dimensions: MetricDimensions): void {
    this.values.push({ name, value, dimensions });
  }

  /** The sum of a metric's values for one fleet (and market, when given). */
  sum(name: FleetMetricName, dimensions: MetricDimensions): number {
    return this.values
      .filter(
        (entry) =>
          entry.name === name &&
          entry.dimensions.fleet === dimensions.fleet &&
          entry.dimensions.market === dimensions.market,
      )
      .reduce((total, entry) => total + entry.value, 0);
  }
}

/** A notification's EventBridge event as a rule's queue receives it. */
export interface ReceivedNotificationEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
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
  readonly events: EventBridgeClient;
  readonly stateBucket: string;
  readonly stateTable: string;
  readonly dynamodb: DynamoDBClient;
  /** The control plane's state, through the adapter the functions use. */
  readonly state: FleetState;
  readonly fleetBucket: string;
  readonly logBucket: string;
  readonly workerRoleName: string;
  /** The worker role's id: a worker's heartbeat is `heartbeats/<role-id>:<instance-id>` (heartbeatKey). */
  readonly workerRoleId: string;
  readonly instanceProfile: string;
  readonly topicArn: string;
  /** What the core measured, through every set of dependencies this world built. */
  readonly metrics: RecordedMetrics;
  /** Builds the launcher's dependencies for these fleets (JSON specs, parsed as the fleet configuration store's). */
  deps(fleets: Record<string, unknown>): LaunchWorkersDependencies;
  /** The interruption handler's dependencies, with a clock the test controls (defaults to the real one). */
  interruptionDeps(fleets: Record<string, unknown>, now?: () => Date): InterruptionDependencies;
  /** The same, with every client its own, as each Lambda container has: what a delivery in a wave runs with. */
  containerDeps(fleets: Record<string, unknown>, now?: () => Date): InterruptionDependencies;
  /** The idle reaper's dependencies, with a clock the test controls and its AWS calls counted. */
  reapDeps(fleets: Record<string, unknown>, now: () => Date, env?: Record<string, string>): ReapDependencies;
  readonly cloudwatch: CloudWatchClient;
  config(fleets: Record<string, unknown>, env?: Record<string, string>): Config;
  /** The environment a deployed function runs with (WORKER_FLEET_*); its fleets are in the store (storeFleets). */
  env(): Record<string, string>;
  /** Writes these fleets to the fleet configuration store, as `worker-fleet config push` does: what handlers read. */
  storeFleets(fleets: Record<string, unknown>): Promise<void>;
  /** Every notification published since the world was made (drains the subscribed queue). */
  notifications(): Promise<ReceivedNotification[]>;
  /** Every `Worker Draining` event put on the default bus since the world was made (their `detail`). */
  drainingEvents(): Promise<Record<string, unknown>[]>;
  /** Every notification event (source `worker-fleet`, a notification detail-type) put on the default bus. */
  notificationEvents(): Promise<ReceivedNotificationEvent[]>;
  /** Keys of the items in the state table (`<pk> <sk>`). */
  stateKeys(): Promise<string[]>;
  /** Instances as the emulator describes them, optionally only those carrying a tag value. */
  instances(filter?: { tag: string; value: string }): Promise<Instance[]>;
  /** Instances launched to replace this one (a launch of several replaces one worker by launch index). */
  replacementsOf(instanceId: string): Promise<Instance[]>;
}

export async function createFleetWorld(emulator: Emulator): Promise<FleetWorld> {
  const settings = clientConfig(emulator);
  const ec2 = new EC2Client(settings);
  const ssm = new SSMClient(settings);
  const sns = new SNSClient(settings);
  const iam = new IAMClient(settings);
  const sqs = new SQSClient(settings);
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  const observer = new EC2Client(settings);
  observer.middlewareStack.add(
    (next) => (args) => {
      const request = (args as { request: { headers: Record<string, string> } }).request;
      request.headers[OBSERVER_HEADER] = '1';
      return next(args);
    },
    { step: 'build', name: 'emulatorObserver' },
  );
  const cloudwatch = new CloudWatchClient(settings);
  const stateBucket = 'worker-fleet-test-state';
  const stateTable = 'worker-fleet-test-state';
  const dynamodb = new DynamoDBClient(settings);
  await createStateTable(dynamodb, stateTable);
  const state = createFleetStateTable(dynamodb, stateTable);
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
  const workerRoleId = role.Role?.RoleId ?? '';

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
  // A rule as a user would write one to route every notification (to an API destination; here a queue).
  const notificationEventQueue = await ruleToQueue(events, sqs, 'notifications-to-queue', {
    source: ['worker-fleet'],
    'detail-type': Object.values(NOTIFICATION_DETAIL_TYPES),
  });
  const received: ReceivedNotification[] = [];
  const draining: Record<string, unknown>[] = [];
  const notificationEvents: ReceivedNotificationEvent[] = [];
  const metrics = new RecordedMetrics();

  /** The environment a deployed function runs with, for these fleets. */
  const env = (): Record<string, string> =>
    deploymentEnv({
      stage: 'test',
      instanceProfile,
      topicArn,
      stateBucket,
      stateTable,
      fleetBucket,
      logBucket,
      workerRole: 'worker-fleet-test-worker',
      workerRoleId,
    });
  const config = (fleets: Record<string, unknown>, overrides: Record<string, string> = {}) =>
    configWithFleets({ ...overrides, ...env(), AWS_REGION: 'us-east-1' }, fleets);

  const interruptionDeps = (fleets: Record<string, unknown>, now = () => new Date()) => ({
    ec2,
    ssm,
    sns,
    s3,
    // Each set of dependencies has clients of its own, as each Lambda container does.
    state: createFleetStateTable(new DynamoDBClient(settings), stateTable),
    events,
    metrics,
    logger,
    config: config(fleets),
    now,
  });

  /** Every instance, or those carrying a tag value; moto answers 100 reservations a page, as EC2 may: all are read. */
  async function describeAll(filter?: { tag: string; value: string }): Promise<Instance[]> {
    // The test sees every instance, lag or not (the observer header).
    const instances: Instance[] = [];
    const pages = paginateDescribeInstances(
      { client: observer },
      { Filters: filter === undefined ? undefined : [{ Name: `tag:${filter.tag}`, Values: [filter.value] }] },
    );
    for await (const page of pages) {
      instances.push(...(page.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []));
    }
    return instances;
  }

  return {
    ec2,
    ssm,
    sns,
    s3,
    stateBucket,
    stateTable,
    dynamodb,
    state,
    fleetBucket,
    logBucket,
    workerRoleName: 'worker-fleet-test-worker',
    workerRoleId,
    imageId,
    subnets,
    keyName,
    securityGroupId,
    instanceProfile,
    topicArn,
    env,
    config,
    events,
    metrics,
    deps: (fleets) => interruptionDeps(fleets),
    async storeFleets(fleets) {
      const current = await headFleetConfig(s3, stateBucket);
      await writeFleetConfig(s3, stateBucket, fleets, 'config-push', current ?? { absent: true });
    },
    cloudwatch,
    reapDeps: (fleets, now, env = {}) => {
      const calls = new CallCounter();
      return {
        ec2: countCalls(new EC2Client(settings), calls),
        s3: countCalls(new S3Client({ ...settings, forcePathStyle: true }), calls),
        state: createFleetStateTable(countCalls(new DynamoDBClient(settings), calls), stateTable),
        cloudwatch: countCalls(new CloudWatchClient(settings), calls),
        sns: countCalls(new SNSClient(settings), calls),
        events: countCalls(new EventBridgeClient(settings), calls),
        metrics,
        logger,
        config: config(fleets, env),
        now,
        calls,
      };
    },
    interruptionDeps,
    containerDeps: (fleets, now = () => new Date()) => ({
      ec2: new EC2Client(settings),
      ssm: new SSMClient(settings),
      sns: new SNSClient(settings),
      s3: new S3Client({ ...settings, forcePathStyle: true }),
      state: createFleetStateTable(new DynamoDBClient(settings), stateTable),
      events: new EventBridgeClient(settings),
      metrics,
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
    async notificationEvents() {
      for (const body of await drain(notificationEventQueue.url)) {
        const event = JSON.parse(body) as {
          source: string;
          'detail-type': string;
          detail: Record<string, unknown>;
        };
        notificationEvents.push({
          source: event.source,
          detailType: event['detail-type'],
          detail: event.detail,
        });
      }
      return notificationEvents;
    },
    async stateKeys() {
      const scanned = await dynamodb.send(new ScanCommand({ TableName: stateTable }));
      return (scanned.Items ?? []).map((item) => `${item.pk?.S} ${item.sk?.S}`);
    },
    instances: describeAll,
    async replacementsOf(instanceId) {
      return (await describeAll()).filter((instance) => replacedInstance(toWorker(instance)) === instanceId);
    },
  };
}
