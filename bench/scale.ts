/**
 * Scale: the launcher's capacity count and the idle reaper at N workers against the emulator. AWS calls per run
 * (counted by an SDK middleware) against the lower bound, wall time and this process's CPU time.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateInstanceProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { seedAccount } from '../local/account';
import { BENCH_RESOURCES, benchConfig } from '../local/deployment-env';
import { type Emulator, emulatorClientConfig } from '../local/emulator';
import { createStateTable } from '../local/state-table';
import { CallCounter, countCalls } from '../src/aws/call-counter';
import { createFleetStateTable } from '../src/aws/fleet-state-table';
import { launchWorkers } from '../src/fleet/launch-workers';
import { reapIdleWorkers } from '../src/fleet/reap-idle-workers';
import { logger } from '../src/logger';
import { DISCARD_METRICS } from '../src/model/fleet-metrics';
import { heartbeatKey } from '../src/model/heartbeat';
import { TAG } from '../src/model/tags';

export interface ScaleRun {
  readonly workers: number;
  readonly step: string;
  readonly calls: number;
  readonly lowerBound: number;
  readonly byCall: Record<string, number>;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  /** CPU spent inside DescribeInstances calls: the SDK serializing, receiving and decoding them. */
  readonly describeCpuSeconds: number;
}

/** CPU time spent inside one client's commands of one name (sequential calls: windows never overlap). */
class CommandCpu {
  seconds = 0;

  constructor(client: EC2Client, commandName: string) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== commandName) return next(args);
        const started = process.cpuUsage();
        try {
          return await next(args);
        } finally {
          const used = process.cpuUsage(started);
          this.seconds += (used.user + used.system) / 1e6;
        }
      },
      { step: 'initialize', name: `benchCpu${commandName}` },
    );
  }
}

const ceilK = (n: number) => Math.ceil(n / 1000);

async function measure<T>(calls: CallCounter, describes: CommandCpu, run: () => Promise<T>) {
  calls.reset();
  describes.seconds = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await run();
  const wallSeconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    result,
    wallSeconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    describeCpuSeconds: describes.seconds,
    ...calls.snapshot(),
  };
}

/**
 * Seeds `workers` fleet workers (half reporting idle) and measures one launcher count and two reaper runs. EC2 is
 * one emulator, S3 and SNS another (`storage`): moto answers one request at a time, and this way the heartbeats
 * of one batch of instances are written while the next batch is launched.
 */
export async function benchScale(
  emulator: Emulator,
  storage: Emulator,
  workers: number,
  log: (line: string) => void,
): Promise<ScaleRun[]> {
  await Promise.all([emulator.reset(), storage.reset()]);
  const settings = { ...emulatorClientConfig(emulator), maxAttempts: 3 };
  const storageSettings = { ...emulatorClientConfig(storage), maxAttempts: 3 };
  const plain = new EC2Client(settings);
  const account = await seedAccount(plain);
  // Workers run with the deployment's instance profile: without it, an instance is not a worker (isOwnedBy).
  await new IAMClient(settings).send(new CreateInstanceProfileCommand({ InstanceProfileName: 'bench' }));
  const s3 = new S3Client({ ...storageSettings, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BENCH_RESOURCES.stateBucket }));
  await s3.send(new CreateBucketCommand({ Bucket: BENCH_RESOURCES.fleetBucket }));
  await createStateTable(new DynamoDBClient(storageSettings), BENCH_RESOURCES.stateTable);
  const topic = await new SNSClient(storageSettings).send(new CreateTopicCommand({ Name: 'bench' }));
  const tags = [
    { Key: TAG.managedBy, Value: 'worker-fleet-bench' },
    { Key: TAG.fleet, Value: 'batch' },
  ];
  const seeding = performance.now();
  const since = () => `${((performance.now() - seeding) / 1000).toFixed(0)} s`;
  const writeHeartbeats = async (batch: readonly string[], first: number) => {
    for (let start = 0; start < batch.length; start += 50) {
      await Promise.all(
        batch.slice(start, start + 50).map((id, index) =>
          s3.send(
            new PutObjectCommand({
              Bucket: BENCH_RESOURCES.fleetBucket,
              Key: heartbeatKey(BENCH_RESOURCES.workerRoleId, id),
              Body: (first + start + index) % 2 === 0 ? 'idle' : 'busy',
            }),
          ),
        ),
      );
    }
  };
  const ids: string[] = [];
  let heartbeats = Promise.resolve();
  for (let launched = 0; launched < workers; launched += 1000) {
    const count = Math.min(1000, workers - launched);
    const output = await plain.send(
      new RunInstancesCommand({
        ImageId: account.imageId,
        MinCount: count,
        MaxCount: count,
        IamInstanceProfile: { Name: 'bench' },
        TagSpecifications: [{ ResourceType: 'instance', Tags: tags }],
      }),
    );
    const batch = (output.Instances ?? []).map((instance) => instance.InstanceId ?? '');
    const first = ids.length;
    ids.push(...batch);
    heartbeats = heartbeats.then(() => writeHeartbeats(batch, first));
  }
  log(`  seeded ${ids.length} workers (${since()})`);
  await heartbeats;
  log(`  wrote ${ids.length} heartbeats (${since()})`);

  const config = benchConfig(topic.TopicArn ?? '', {
    batch: {
      ami: account.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [account.subnets[0]?.subnetId],
      market: 'spot',
      targetCapacity: workers,
      // The emulator takes minutes per run at 10,000 workers: heartbeats must not go stale during the benchmark.
      idle: {
        heartbeatTimeoutMinutes: 120,
        bootGraceMinutes: 0,
        terminateAfterMinutes: 10,
        minWorkers: 0,
      },
    },
  });
  const calls = new CallCounter();
  const ec2 = countCalls(new EC2Client(settings), calls);
  const describes = new CommandCpu(ec2, 'DescribeInstancesCommand');
  const clients = {
    ec2,
    s3: countCalls(new S3Client({ ...storageSettings, forcePathStyle: true }), calls),
    state: createFleetStateTable(
      countCalls(new DynamoDBClient(storageSettings), calls),
      BENCH_RESOURCES.stateTable,
    ),
    sns: countCalls(new SNSClient(storageSettings), calls),
    ssm: countCalls(new SSMClient(settings), calls),
    cloudwatch: countCalls(new CloudWatchClient(settings), calls),
    events: countCalls(new EventBridgeClient(storageSettings), calls),
    metrics: DISCARD_METRICS,
  };
  const runs: ScaleRun[] = [];
  const record = (step: string, lowerBound: number, m: Awaited<ReturnType<typeof measure>>) => {
    runs.push({
      workers,
      step,
      calls: m.total,
      lowerBound,
      byCall: m.calls,
      wallSeconds: m.wallSeconds,
      cpuSeconds: m.cpuSeconds,
      describeCpuSeconds: m.describeCpuSeconds,
    });
    log(
      `  ${step}: ${m.total} calls (lower bound ${lowerBound}), ${m.wallSeconds.toFixed(2)} s wall, ${m.cpuSeconds.toFixed(2)} s CPU (${m.describeCpuSeconds.toFixed(2)} s in DescribeInstances)`,
    );
  };

  const count = await measure(calls, describes, () =>
    launchWorkers(
      { ...clients, logger, config, now: () => new Date() },
      { kind: 'schedule', id: `bench-${workers}` },
    ),
  );
  // describe pages + the reconciliation's own (docs/reconciliation.md): the request recorded, the lease taken and
  // given back, the facts read (one query), the applied request and the size recorded (one fenced transaction)
  record('launcher capacity count (fleet full)', ceilK(workers) + 5, count);

  const idle = Math.ceil(workers / 2);
  const at = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);
  const mark = await measure(calls, describes, () =>
    reapIdleWorkers({ ...clients, logger, config, now: at(1), calls }),
  );
  // describe pages + heartbeat pages + one CreateTags per 1,000 marked + one notification (SNS and EventBridge) +
  // the lease (taken, given back) + the fence checked before acting
  record('reaper run that marks the idle half', ceilK(workers) + ceilK(workers) + ceilK(idle) + 2 + 3, mark);
  const reap = await measure(calls, describes, () =>
    reapIdleWorkers({ ...clients, logger, config, now: at(12), calls }),
  );
  // describe pages + heartbeat pages + one TerminateInstances per 1,000 + one notification (SNS and EventBridge) +
  // the lease and fence + the request that lowers the fleet's size by the idle workers terminated + the workers about
  // to be terminated asked again right before (DescribeInstances by id, and the heartbeats listed again, #26)
  record(
    'reaper run that terminates them',
    ceilK(workers) + ceilK(workers) + ceilK(idle) + 2 + 3 + 1 + ceilK(idle) + ceilK(workers),
    reap,
  );
  return runs;
}
