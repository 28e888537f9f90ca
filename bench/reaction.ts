/**
 * Reaction: 200 spot interruption warnings for fleet workers through the interruption handler's core, against the
 * emulator. Handler time per warning (p50, p99), and the sequential AWS round trips before the notification is
 * published and before the replacement is requested (the longest chain of calls that did not overlap).
 */

import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { seedAccount } from '../local/account';
import { BENCH_RESOURCES, configWithFleets, deploymentEnv } from '../local/deployment-env';
import { type Emulator, emulatorClientConfig } from '../local/emulator';
import { createStateTable } from '../local/state-table';
import { writeFleetConfig } from '../src/aws/fleet-config-store';
import { createFleetStateTable } from '../src/aws/fleet-state-table';
import { parseInstanceEvent } from '../src/events/instance';
import { launchWorkers } from '../src/fleet/launch-workers';
import { handleInstanceEvent } from '../src/fleet/spot-interruption';
import { logger } from '../src/logger';
import { DISCARD_METRICS } from '../src/model/fleet-metrics';
import { packageFunctions } from './cold-start';

export interface ReactionBench {
  readonly warnings: number;
  readonly p50Seconds: number;
  readonly p99Seconds: number;
  /** CPU time of this process per warning (the handler's code and the SDK's), median. */
  readonly cpuSecondsP50: number;
  /** Worst case over all warnings. */
  readonly roundTripsBeforeNotification: number;
  readonly roundTripsBeforeReplacement: number;
  /**
   * From the warning's arrival to the replacement's RunInstances request, through the fleet's reconciliation (its
   * lease, its facts, the fleet's listing): p50 and p99. Goal (#17): p99 < 1.5 s.
   */
  readonly toReplacementP50Seconds: number;
  readonly toReplacementP99Seconds: number;
  /**
   * Warnings each handled by a new Node process that loads the packaged handler (a cold start): how many published
   * the notification before their first EC2 request (which waits for the EC2 chunk to load), and the medians from
   * the process's start to each.
   */
  readonly coldStarts: {
    readonly runs: number;
    readonly notifiedBeforeEc2: number;
    readonly secondsToNotification: number;
    readonly secondsToFirstEc2Request: number;
  };
}

export interface Call {
  readonly service: string;
  readonly name: string;
  readonly start: number;
  end: number;
}

/** Records when each command starts and ends. */
export function timed<T extends object>(service: string, client: T, calls: Call[]): T {
  (
    client as unknown as {
      middlewareStack: {
        add(
          m: (
            next: (a: unknown) => Promise<unknown>,
            c: { commandName?: string },
          ) => (a: unknown) => Promise<unknown>,
          o: { step: 'initialize'; name: string },
        ): void;
      };
    }
  ).middlewareStack.add(
    (next, context) => async (args) => {
      const call: Call = {
        service,
        name: (context.commandName ?? '').replace(/Command$/, ''),
        start: performance.now(),
        end: 0,
      };
      calls.push(call);
      try {
        return await next(args);
      } finally {
        call.end = performance.now();
      }
    },
    { step: 'initialize', name: 'benchTiming' },
  );
  return client;
}

/** The longest chain of calls, each starting after the previous ended, among calls that ended before `until`. */
function sequentialBefore(calls: readonly Call[], until: number): number {
  const before = calls.filter((call) => call.end <= until).sort((a, b) => a.end - b.end);
  const depth = new Map<Call, number>();
  for (const call of before) {
    const previous = before.filter((other) => other.end <= call.start).map((other) => depth.get(other) ?? 0);
    depth.set(call, 1 + Math.max(0, ...previous));
  }
  return Math.max(0, ...depth.values());
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? 0;

/**
 * Each warning through a new Node process that imports the packaged interruption handler and invokes it, as Lambda
 * does on a cold start; the emulator's proxy records when each request arrives.
 */
async function coldWarnings(
  emulator: Emulator,
  env: Record<string, string>,
  workers: readonly { instanceId: string }[],
): Promise<ReactionBench['coldStarts']> {
  const spot = (await packageFunctions()).find((packaged) => packaged.name === 'handleSpotInterruption');
  if (spot === undefined) throw new Error('handleSpotInterruption was not packaged');
  const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(spot.entry).href)});
const result = await handler(JSON.parse(process.env.BENCH_EVENT), { awsRequestId: 'cold', functionName: 'bench' });
process.stdout.write(result.status);`;
  const notified: number[] = [];
  const firstEc2: number[] = [];
  let publishedFirst = 0;
  for (const worker of workers) {
    emulator.requests.length = 0;
    const event = {
      version: '0',
      id: `cold-${worker.instanceId}`,
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      time: new Date().toISOString(),
      detail: { 'instance-id': worker.instanceId, 'instance-action': 'terminate' },
    };
    const started = performance.now();
    const status = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        {
          env: {
            ...process.env,
            ...env,
            AWS_ENDPOINT_URL: emulator.endpoint,
            AWS_ACCESS_KEY_ID: 'testing',
            AWS_SECRET_ACCESS_KEY: 'testing',
            POWERTOOLS_LOG_LEVEL: 'SILENT',
            BENCH_EVENT: JSON.stringify(event),
          },
        },
        (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(stderr))),
      );
    });
    // Metrics on, as deployed: the embedded-metric documents come first on stdout, the status last.
    if (status.trim().split('\n').at(-1) !== 'replaced') {
      throw new Error(`cold warning for ${worker.instanceId}: ${status}`);
    }
    const publish = emulator.requests.find((request) => request.action === 'Publish');
    const ec2 = emulator.requests.find((request) => request.action === 'DescribeInstances');
    if (publish === undefined || ec2 === undefined)
      throw new Error('a cold warning made no Publish or no EC2 call');
    if (publish.at < ec2.at) publishedFirst += 1;
    notified.push((publish.at - started) / 1000);
    firstEc2.push((ec2.at - started) / 1000);
  }
  return {
    runs: workers.length,
    notifiedBeforeEc2: publishedFirst,
    secondsToNotification: percentile(notified, 50),
    secondsToFirstEc2Request: percentile(firstEc2, 50),
  };
}

export async function benchReaction(emulator: Emulator, warnings: number, log: (line: string) => void) {
  await emulator.reset();
  const settings = { ...emulatorClientConfig(emulator), maxAttempts: 3 };
  const account = await seedAccount(new EC2Client(settings));
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BENCH_RESOURCES.stateBucket }));
  const dynamodb = new DynamoDBClient(settings);
  await createStateTable(dynamodb, BENCH_RESOURCES.stateTable);
  const topic = await new SNSClient(settings).send(new CreateTopicCommand({ Name: 'bench' }));
  const iam = new IAMClient(settings);
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'bench-worker',
      AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
    }),
  );
  const profile = await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'bench-worker' }));
  await iam.send(
    new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'bench-worker', RoleName: 'bench-worker' }),
  );
  const fleets = {
    batch: {
      ami: account.imageId,
      instanceTypes: ['c7g.large', 'm7g.large'],
      subnets: account.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
      market: 'spot-with-on-demand-fallback',
      targetCapacity: warnings,
      maxCapacity: warnings * 3,
      agent: { enabled: false },
    },
  };
  // The packaged functions read their fleets from the store, as deployed ones do.
  await writeFleetConfig(s3, BENCH_RESOURCES.stateBucket, fleets, 'deploy', { absent: true });
  const env = {
    ...deploymentEnv({
      ...BENCH_RESOURCES,
      instanceProfile: profile.InstanceProfile?.InstanceProfileName ?? '',
      topicArn: topic.TopicArn ?? '',
    }),
    AWS_REGION: 'us-east-1',
  };
  const config = configWithFleets(env, fleets);
  const calls: Call[] = [];
  const deps = {
    config,
    logger,
    now: () => new Date(),
    ec2: timed('EC2', new EC2Client(settings), calls),
    s3: timed('S3', new S3Client({ ...settings, forcePathStyle: true }), calls),
    state: createFleetStateTable(timed('DynamoDB', dynamodb, calls), BENCH_RESOURCES.stateTable),
    sns: timed('SNS', new SNSClient(settings), calls),
    ssm: timed('SSM', new SSMClient(settings), calls),
    events: timed('EventBridge', new EventBridgeClient(settings), calls),
    metrics: DISCARD_METRICS,
  };
  const [fleet] = await launchWorkers(deps, { kind: 'direct', id: 'bench-reaction', fleet: 'batch' });
  const workers = fleet?.launched ?? [];
  log(`  launched ${workers.length} workers`);

  const seconds: number[] = [];
  const toReplacement: number[] = [];
  const cpuSeconds: number[] = [];
  let beforeNotification = 0;
  let beforeReplacement = 0;
  const COLD_WARNINGS = 10;
  const coldWorkers = workers.slice(-COLD_WARNINGS);
  for (const [index, worker] of workers.slice(0, -COLD_WARNINGS).entries()) {
    calls.length = 0;
    const event = parseInstanceEvent({
      id: `warning-${index}`,
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      time: new Date().toISOString(),
      detail: { 'instance-id': worker.instanceId, 'instance-action': 'terminate' },
    });
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const result = await handleInstanceEvent(deps, event);
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    if (result.status !== 'replaced') throw new Error(`warning for ${worker.instanceId}: ${result.status}`);
    const publish = calls.find((call) => call.name === 'Publish');
    const run = calls.find((call) => call.name === 'RunInstances');
    seconds.push(elapsed);
    if (run !== undefined) toReplacement.push((run.start - started) / 1000);
    cpuSeconds.push((cpu.user + cpu.system) / 1e6);
    if (publish !== undefined)
      beforeNotification = Math.max(beforeNotification, sequentialBefore(calls, publish.start));
    if (run !== undefined)
      beforeReplacement = Math.max(beforeReplacement, sequentialBefore(calls, run.start));
  }
  const coldStarts = await coldWarnings(emulator, env, coldWorkers);
  const result: ReactionBench = {
    warnings: seconds.length,
    p50Seconds: percentile(seconds, 50),
    p99Seconds: percentile(seconds, 99),
    cpuSecondsP50: percentile(cpuSeconds, 50),
    roundTripsBeforeNotification: beforeNotification,
    roundTripsBeforeReplacement: beforeReplacement,
    toReplacementP50Seconds: percentile(toReplacement, 50),
    toReplacementP99Seconds: percentile(toReplacement, 99),
    coldStarts,
  };
  log(
    `  ${result.warnings} warnings: p50 ${result.p50Seconds.toFixed(3)} s, p99 ${result.p99Seconds.toFixed(3)} s; round trips before notification ${beforeNotification}, before replacement ${beforeReplacement}; warning to replacement p50 ${percentile(toReplacement, 50).toFixed(3)} s, p99 ${percentile(toReplacement, 99).toFixed(3)} s; cold: ${coldStarts.notifiedBeforeEc2} of ${coldStarts.runs} notified before their first EC2 request (${coldStarts.secondsToNotification.toFixed(3)} s vs ${coldStarts.secondsToFirstEc2Request.toFixed(3)} s)`,
  );
  return result;
}
