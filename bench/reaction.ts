/**
 * Reaction: 200 spot interruption warnings for fleet workers through the interruption handler's core, against the
 * emulator. Handler time per warning (p50, p99), and the sequential AWS round trips before the notification is
 * published and before the replacement is requested (the longest chain of calls that did not overlap).
 */
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
import { BENCH_RESOURCES, deploymentEnv } from '../local/deployment-env';
import { type Emulator, emulatorClientConfig } from '../local/emulator';
import { loadConfig } from '../src/config';
import { parseInstanceEvent } from '../src/events';
import { launchWorkers } from '../src/fleet/launch-workers';
import { handleInstanceEvent } from '../src/fleet/spot-interruption';
import { logger } from '../src/logger';

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
   * Of warnings handled while EC2 answers 100 ms late (as while its client is still loading on a cold start), how
   * many were notified before any EC2 answer arrived.
   */
  readonly notifiedBeforeEc2: { readonly of: number; readonly notified: number };
}

interface Call {
  readonly service: string;
  readonly name: string;
  readonly start: number;
  end: number;
}

/** Records when each command starts and ends. */
/** Extra latency given to EC2 calls, for the run that stands in for a cold EC2 client. */
const ec2Delay = { ms: 0 };

function timed<T extends object>(service: string, client: T, calls: Call[]): T {
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
      if (service === 'EC2' && ec2Delay.ms > 0)
        await new Promise((resolve) => setTimeout(resolve, ec2Delay.ms));
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

export async function benchReaction(emulator: Emulator, warnings: number, log: (line: string) => void) {
  await emulator.reset();
  const settings = { ...emulatorClientConfig(emulator), maxAttempts: 3 };
  const account = await seedAccount(new EC2Client(settings));
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BENCH_RESOURCES.stateBucket }));
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
  const config = loadConfig({
    ...deploymentEnv(
      {
        ...BENCH_RESOURCES,
        instanceProfile: profile.InstanceProfile?.InstanceProfileName ?? '',
        topicArn: topic.TopicArn ?? '',
      },
      {
        batch: {
          ami: account.imageId,
          instanceTypes: ['c7g.large', 'm7g.large'],
          subnets: account.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
          market: 'spot-with-on-demand-fallback',
          targetCapacity: warnings,
          maxCapacity: warnings * 3,
          agent: { enabled: false },
        },
      },
    ),
    AWS_REGION: 'us-east-1',
  });
  const calls: Call[] = [];
  const deps = {
    config,
    logger,
    now: () => new Date(),
    ec2: timed('EC2', new EC2Client(settings), calls),
    s3: timed('S3', new S3Client({ ...settings, forcePathStyle: true }), calls),
    sns: timed('SNS', new SNSClient(settings), calls),
    ssm: timed('SSM', new SSMClient(settings), calls),
    events: timed('EventBridge', new EventBridgeClient(settings), calls),
  };
  const [fleet] = await launchWorkers(deps, { kind: 'direct', id: 'bench-reaction', fleet: 'batch' });
  const workers = fleet?.launched ?? [];
  log(`  launched ${workers.length} workers`);

  const seconds: number[] = [];
  const cpuSeconds: number[] = [];
  let beforeNotification = 0;
  let beforeReplacement = 0;
  const slowEc2 = { of: 0, notified: 0 };
  const SLOW_EC2_WARNINGS = 20;
  for (const [index, worker] of workers.entries()) {
    calls.length = 0;
    const event = parseInstanceEvent({
      id: `warning-${index}`,
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      time: new Date().toISOString(),
      detail: { 'instance-id': worker.instanceId, 'instance-action': 'terminate' },
    });
    const slow = index >= workers.length - SLOW_EC2_WARNINGS;
    ec2Delay.ms = slow ? 100 : 0;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const result = await handleInstanceEvent(deps, event);
    const elapsed = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    if (result.status !== 'replaced') throw new Error(`warning for ${worker.instanceId}: ${result.status}`);
    const publish = calls.find((call) => call.name === 'Publish');
    const run = calls.find((call) => call.name === 'RunInstances');
    if (slow) {
      const firstEc2Answer = Math.min(
        ...calls.filter((call) => call.service === 'EC2').map((call) => call.end),
      );
      slowEc2.of += 1;
      if (publish !== undefined && publish.start < firstEc2Answer) slowEc2.notified += 1;
      continue;
    }
    seconds.push(elapsed);
    cpuSeconds.push((cpu.user + cpu.system) / 1e6);
    if (publish !== undefined)
      beforeNotification = Math.max(beforeNotification, sequentialBefore(calls, publish.start));
    if (run !== undefined)
      beforeReplacement = Math.max(beforeReplacement, sequentialBefore(calls, run.start));
  }
  const result: ReactionBench = {
    warnings: seconds.length,
    p50Seconds: percentile(seconds, 50),
    p99Seconds: percentile(seconds, 99),
    cpuSecondsP50: percentile(cpuSeconds, 50),
    roundTripsBeforeNotification: beforeNotification,
    roundTripsBeforeReplacement: beforeReplacement,
    notifiedBeforeEc2: slowEc2,
  };
  log(
    `  ${result.warnings} warnings: p50 ${result.p50Seconds.toFixed(3)} s, p99 ${result.p99Seconds.toFixed(3)} s; round trips before notification ${beforeNotification}, before replacement ${beforeReplacement}; with EC2 100 ms late, ${slowEc2.notified} of ${slowEc2.of} notified before EC2 answered`,
  );
  return result;
}
