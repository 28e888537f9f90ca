/**
 * What a worker writing fast costs in EC2 calls (issue 27): 1,000 object events from 10 workers over 50 seconds, each
 * attributed as logS3Access attributes it, with the lookups a container keeps across invocations and, for comparison,
 * with none kept (every event asks EC2, as before). Counted, not timed: DescribeInstances calls per 1,000 events.
 */
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { seedAccount } from '../local/account';
import { BENCH_RESOURCES, benchConfig } from '../local/deployment-env';
import { type Emulator, emulatorClientConfig } from '../local/emulator';
import { createAttributor, WorkerLookups } from '../src/access/attribution';
import { TAG } from '../src/model/tags';
import { type Call, timed } from './reaction';

export interface AttributionBench {
  readonly events: number;
  readonly workers: number;
  readonly seconds: number;
  readonly describesKept: number;
  readonly describesUnkept: number;
}

export async function benchAttribution(
  emulator: Emulator,
  log: (line: string) => void,
): Promise<AttributionBench> {
  await emulator.reset();
  const settings = { ...emulatorClientConfig(emulator), maxAttempts: 3 };
  const account = await seedAccount(new EC2Client(settings));
  const launched = await new EC2Client(settings).send(
    new RunInstancesCommand({
      ImageId: account.imageId,
      InstanceType: 'c7g.large',
      MinCount: 10,
      MaxCount: 10,
      SubnetId: account.subnets[0]?.subnetId,
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: [
            { Key: TAG.managedBy, Value: 'worker-fleet-bench' },
            { Key: TAG.fleet, Value: 'batch' },
          ],
        },
      ],
    }),
  );
  const workers = (launched.Instances ?? []).map((instance) => instance.InstanceId ?? '');
  const config = benchConfig('arn:aws:sns:us-east-1:123456789012:bench', {
    batch: {
      ami: account.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [account.subnets[0]?.subnetId],
      market: 'spot',
      targetCapacity: 1,
    },
  });
  const events = 1000;
  const run = async (keep: boolean) => {
    const calls: Call[] = [];
    const ec2 = timed('EC2', new EC2Client(settings), calls);
    let clock = Date.parse('2026-12-05T09:00:00Z');
    const kept = new WorkerLookups(() => clock);
    for (let n = 0; n < events; n += 1) {
      clock += 50;
      // One invocation per object event: the container's lookups outlive it, an attributor does not.
      const attribute = createAttributor(ec2, config, keep ? kept : new WorkerLookups(() => clock));
      await attribute({
        time: new Date(clock).toISOString(),
        bucket: 'bench-fleet',
        key: `results/${n}`,
        operation: 'PutObject',
        principal: `arn:aws:sts::123456789012:assumed-role/${BENCH_RESOURCES.workerRole}/${workers[n % workers.length]}`,
        sourceIp: '10.0.0.1',
        requestId: `request-${n}`,
        source: 'event',
      });
    }
    return calls.filter((call) => call.name === 'DescribeInstances').length;
  };
  const result = {
    events,
    workers: workers.length,
    seconds: (events * 50) / 1000,
    describesKept: await run(true),
    describesUnkept: await run(false),
  };
  log(
    `  ${events} events from ${workers.length} workers: ${result.describesKept} DescribeInstances with lookups kept, ${result.describesUnkept} without`,
  );
  return result;
}
