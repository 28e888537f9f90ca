import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { lambdaContext } from '../../local/lambda-context';
import { launchWorkers } from '../../src/fleet/launch-workers';
import type { FleetReapResult } from '../../src/fleet/reap-idle-workers';
import { heartbeatKey } from '../../src/model/heartbeat';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
const context = lambdaContext('worker-fleet-test-reapIdleWorkers', 330_000, 'lambda-request-1');

/**
 * The idle signals a fleet configures, judged through the deployed function (clients and configuration from its
 * environment, the fleets from the store, the real clock): boot grace, the CPU maximum guard, the network threshold.
 */
describe('reapIdleWorkers handler: the idle signals a fleet configures', () => {
  let world: FleetWorld;

  const fleet = (idle: Record<string, unknown>) => ({
    ami: world.imageId,
    instanceTypes: ['c7g.large'],
    subnets: [world.subnets[0]?.subnetId],
    market: 'on-demand',
    targetCapacity: 1,
    idle: { bootGraceMinutes: 0, terminateAfterMinutes: 10, minWorkers: 0, ...idle },
  });
  /** CloudWatch datapoints of the last minutes, each a minute's statistics as EC2 publishes them. */
  const metric = (instanceId: string, name: string, points: { average: number; maximum: number }[]) =>
    world.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/EC2',
        MetricData: points.map(({ average, maximum }, index) => ({
          MetricName: name,
          Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
          Timestamp: new Date(Date.now() - (index + 1) * 60_000),
          StatisticValues: { SampleCount: 2, Sum: average * 2, Minimum: 0, Maximum: maximum },
          Unit: name === 'CPUUtilization' ? 'Percent' : 'Bytes',
        })),
      }),
    );
  const quiet = [
    { average: 1, maximum: 2 },
    { average: 2, maximum: 3 },
  ];

  it('keeps a booting worker and one with a CPU burst or network traffic; marks the idle ones', async () => {
    world = await createFleetWorld(emulator());
    const heartbeatOnly = { heartbeatTimeoutMinutes: 15 };
    const cpu = { cpu: { belowPercent: 5, maxPercent: 20, windowMinutes: 15 } };
    const network = { cpu: { belowPercent: 5, windowMinutes: 15, networkBelowBytes: 1_000_000 } };
    const fleets = {
      booting: fleet({ ...heartbeatOnly, bootGraceMinutes: 10 }),
      booted: fleet(heartbeatOnly),
      bursty: fleet(cpu),
      steady: fleet(cpu),
      talking: fleet(network),
      silent: fleet(network),
    };
    const launched = await launchWorkers(world.deps(fleets), { kind: 'direct', id: 'setup' });
    const workerOf = Object.fromEntries(
      launched.map((result) => [result.fleet, result.launched[0]?.instanceId ?? '']),
    );
    for (const name of ['booting', 'booted']) {
      await world.s3.send(
        new PutObjectCommand({
          Bucket: world.fleetBucket,
          Key: heartbeatKey(world.workerRoleId, workerOf[name] ?? ''),
          Body: 'idle',
        }),
      );
    }
    // Averages low everywhere; one worker's CPU peaked at 60%, one moved 5 MB a minute.
    await metric(workerOf.bursty ?? '', 'CPUUtilization', [{ average: 1, maximum: 60 }, ...quiet]);
    for (const name of ['steady', 'talking', 'silent'])
      await metric(workerOf[name] ?? '', 'CPUUtilization', quiet);
    for (const name of ['talking', 'silent']) {
      const bytes = name === 'talking' ? 5_000_000 : 1_000;
      for (const direction of ['NetworkIn', 'NetworkOut']) {
        await metric(workerOf[name] ?? '', direction, [
          { average: bytes / 2, maximum: bytes },
          { average: bytes / 2, maximum: bytes },
        ]);
      }
    }
    await world.storeFleets(fleets);
    Object.assign(process.env, { AWS_ENDPOINT_URL: emulator().endpoint, ...world.env() });
    const { handler } = await import('../../src/handlers/reap-idle-workers');

    const results = (await handler({ dryRun: false }, context)) as FleetReapResult[];

    const marked = Object.fromEntries(
      results.map((result) => [result.fleet, result.marked.map((worker) => worker.explanation)]),
    );
    expect(marked).toEqual({
      booting: [],
      booted: [expect.stringContaining('idle')],
      bursty: [],
      steady: ['idle: cpu 2% < 5%'],
      talking: [],
      silent: ['idle: cpu 2% < 5%'],
    });
  });
});
