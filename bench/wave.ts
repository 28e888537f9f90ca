/**
 * The wave benchmark (issue 25): hundreds of spot warnings for one fleet's workers at the same moment, each delivered
 * in a container of its own (its own clients), against the emulator. What a user feels: when the last warning was
 * notified, when the last replacement was requested, how many deliveries failed, and what each warning cost in AWS
 * calls. The emulator's time is an upper bound of EC2's: moto on this host is the slowest part (RunInstances and
 * DescribeInstances take tens of milliseconds each here, single digits on EC2).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateInstanceProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { seedAccount } from '../local/account';
import { BENCH_RESOURCES, benchConfig } from '../local/deployment-env';
import { type Emulator, emulatorClientConfig } from '../local/emulator';
import { createStateTable } from '../local/state-table';
import { toWorker } from '../src/aws/ec2-workers';
import { createFleetStateTable } from '../src/aws/fleet-state-table';
import { parseInstanceEvent } from '../src/events/instance';
import { launchWorkers } from '../src/fleet/launch-workers';
import { handleInstanceEvent } from '../src/fleet/spot-interruption';
import { logger } from '../src/logger';
import { DISCARD_METRICS } from '../src/model/fleet-metrics';
import { TAG } from '../src/model/tags';
import { replacedInstance } from '../src/model/worker';
import { type Call, timed } from './reaction';

export interface WaveRun {
  readonly fleets: number;
  readonly warningsPerFleet: number;
  /** From the moment every warning was delivered to the last notification published. */
  readonly secondsToLastNotification: number;
  /** To the last replacement's RunInstances answered. */
  readonly secondsToLastReplacement: number;
  /** Workers replaced: instances launched as a warned worker's replacement. */
  readonly replacements: number;
  /** The RunInstances calls that launched them (up to 12 replacements of one pool per call). */
  readonly replacementLaunches?: number;
  readonly failedDeliveries: number;
  readonly awsCallsPerWarning: number;
  readonly callsPerWarning: Readonly<Record<string, number>>;
}

/** Runs one wave: `fleets` fleets of `size` workers, every worker warned at once. */
export async function benchWave(
  emulator: Emulator,
  fleets: number,
  size: number,
  log: (line: string) => void,
): Promise<WaveRun> {
  await emulator.reset();
  const settings = { ...emulatorClientConfig(emulator), maxAttempts: 3 };
  const account = await seedAccount(new EC2Client(settings));
  await new IAMClient(settings).send(new CreateInstanceProfileCommand({ InstanceProfileName: 'bench' }));
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BENCH_RESOURCES.stateBucket }));
  await createStateTable(new DynamoDBClient(settings), BENCH_RESOURCES.stateTable);
  const topic = await new SNSClient(settings).send(new CreateTopicCommand({ Name: 'bench' }));
  const spec = (name: string) => [
    name,
    {
      ami: account.imageId,
      instanceTypes: ['c7g.large', 'm7g.large'],
      subnets: account.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
      market: 'spot-with-on-demand-fallback',
      targetCapacity: size,
      maxCapacity: size * 2,
      agent: { enabled: false },
    },
  ];
  const config = benchConfig(
    topic.TopicArn ?? '',
    Object.fromEntries(Array.from({ length: fleets }, (_, n) => spec(`fleet-${n}`))),
  );
  const container = (calls: Call[]) => ({
    ec2: timed('EC2', new EC2Client(settings), calls),
    ssm: timed('SSM', new SSMClient(settings), calls),
    sns: timed('SNS', new SNSClient(settings), calls),
    s3: timed('S3', new S3Client({ ...settings, forcePathStyle: true }), calls),
    state: createFleetStateTable(
      timed('DynamoDB', new DynamoDBClient(settings), calls),
      BENCH_RESOURCES.stateTable,
    ),
    events: timed('EventBridge', new EventBridgeClient(settings), calls),
    metrics: DISCARD_METRICS,
    logger,
    config,
    now: () => new Date(),
  });
  const launched = await launchWorkers(container([]), { kind: 'direct', id: 'bench-wave' });
  const workers = launched.flatMap((result) => result.launched);
  log(`  launched ${workers.length} workers in ${fleets} fleet(s)`);
  const perDelivery: Call[][] = workers.map(() => []);

  const started = performance.now();
  const time = new Date().toISOString();
  const outcomes = await Promise.allSettled(
    workers.map((worker, index) =>
      handleInstanceEvent(
        container(perDelivery[index] ?? []),
        parseInstanceEvent({
          id: `wave-${index}`,
          'detail-type': 'EC2 Spot Instance Interruption Warning',
          source: 'aws.ec2',
          time,
          detail: { 'instance-id': worker.instanceId, 'instance-action': 'terminate' },
        }),
      ),
    ),
  );
  const seconds = (at: number) => (at - started) / 1000;
  const reasons = new Set(
    outcomes.flatMap((outcome) =>
      outcome.status === 'rejected'
        ? [`${(outcome.reason as Error).name}: ${(outcome.reason as Error).message}`]
        : [],
    ),
  );
  for (const reason of [...reasons].slice(0, 3)) log(`  a delivery failed: ${reason}`);
  const calls = perDelivery.flat();
  // Each delivery's first publish is its warning's notification.
  const notices = perDelivery.map((own) => own.find((call) => call.name === 'Publish')?.end ?? Number.NaN);
  const launches = calls.filter((call) => call.name === 'RunInstances');
  const replaced = await replacedWorkers(container([]).ec2);
  const byCall: Record<string, number> = {};
  for (const call of calls)
    byCall[`${call.service}.${call.name}`] = (byCall[`${call.service}.${call.name}`] ?? 0) + 1;
  const warnings = workers.length;
  const run: WaveRun = {
    fleets,
    warningsPerFleet: size,
    secondsToLastNotification: seconds(Math.max(...notices)),
    secondsToLastReplacement: seconds(Math.max(...launches.map((call) => call.end))),
    replacements: replaced,
    replacementLaunches: launches.length,
    failedDeliveries: outcomes.filter((outcome) => outcome.status === 'rejected').length,
    awsCallsPerWarning: calls.length / warnings,
    callsPerWarning: Object.fromEntries(
      Object.entries(byCall)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, count]) => [name, Math.round((count / warnings) * 100) / 100]),
    ),
  };
  log(
    `  ${fleets} × ${size}: last notification ${run.secondsToLastNotification.toFixed(2)} s, last replacement ${run.secondsToLastReplacement.toFixed(2)} s, ${run.failedDeliveries} failed, ${run.awsCallsPerWarning.toFixed(1)} calls per warning`,
  );
  return run;
}

/** How many workers were replaced: instances whose replaces tag names one (each the one at its launch index). */
async function replacedWorkers(ec2: EC2Client): Promise<number> {
  const replaced = new Set<string>();
  const pages = paginateDescribeInstances(
    { client: ec2 },
    { Filters: [{ Name: 'tag-key', Values: [TAG.replaces] }] },
  );
  for await (const page of pages) {
    for (const instance of (page.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? [])) {
      const worker = replacedInstance(toWorker(instance));
      if (worker !== undefined) replaced.add(worker);
    }
  }
  return replaced.size;
}
