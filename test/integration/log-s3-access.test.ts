import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { accessLogLine, workerSession } from '../../local/access-log';
import { lambdaContext } from '../../local/lambda-context';
import { drainQueue, ruleToQueue } from '../../local/queues';
import { DENIED_BURST } from '../../src/access/access-alerts';
import { WORKER_LOOKUP_TTL_MS, WorkerLookups } from '../../src/access/attribution';
import { type AccessDependencies, logS3Access } from '../../src/access/log-s3-access';
import { describeWorker } from '../../src/aws/ec2-workers';
import { InvalidEventError } from '../../src/errors';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { logger } from '../../src/logger';
import { TAG } from '../../src/model/tags';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();
let world: FleetWorld;
let logged: { level: string; message: string; fields: Record<string, unknown> }[];

beforeEach(async () => {
  world = await createFleetWorld(emulator());
  logged = [];
  for (const level of ['info', 'warn', 'error'] as const) {
    jest.spyOn(logger, level).mockImplementation((message, ...extras) => {
      logged.push({
        level,
        message: String(message),
        fields: Object.assign({}, ...extras.filter((extra) => typeof extra === 'object')),
      });
    });
  }
});

afterEach(() => jest.restoreAllMocks());

const accessLines = () => logged.filter((line) => line.message === 's3 access').map((line) => line.fields);

function fleets(subnetId = world.subnets[0]?.subnetId) {
  return {
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [subnetId],
      market: 'on-demand',
      targetCapacity: 2,
      agent: { enabled: false },
    },
  };
}

function deps(spec: ReturnType<typeof fleets> = fleets()): AccessDependencies {
  return {
    ec2: world.ec2,
    s3: world.s3,
    sns: world.sns,
    events: world.events,
    metrics: world.metrics,
    logger,
    config: world.config(spec),
  };
}

async function launch(spec: ReturnType<typeof fleets>, count: number): Promise<string[]> {
  const [result] = await launchWorkers(world.deps(spec), {
    kind: 'direct',
    id: `launch-${count}`,
    fleet: 'batch',
    target: count,
  });
  return (result?.launched ?? []).map((worker) => worker.instanceId);
}

/**
 * A worker whose private address is the one the emulator's S3 events always come from (1.2.3.4): a subnet holding
 * that address gives it to the first worker launched in it.
 */
async function workerAtEventAddress() {
  const vpc = await world.ec2.send(new CreateVpcCommand({ CidrBlock: '1.2.0.0/16' }));
  const subnet = await world.ec2.send(
    new CreateSubnetCommand({ VpcId: vpc.Vpc?.VpcId, CidrBlock: '1.2.3.0/24' }),
  );
  const spec = fleets(subnet.Subnet?.SubnetId);
  const [worker] = await launch(spec, 1);
  return { spec, worker };
}

/**
 * Turns on EventBridge notifications for the fleet and log buckets (the deployed stack does; the emulator's
 * CloudFormation ignores the setting) and routes every S3 event to a queue, so the events the function receives are
 * the ones the emulator's S3 really emits.
 */
async function captureS3Events(): Promise<() => Promise<unknown[]>> {
  const settings = clientConfig(emulator());
  const sqs = new SQSClient(settings);
  const events = new EventBridgeClient(settings);
  for (const Bucket of [world.fleetBucket, world.logBucket]) {
    await world.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket,
        NotificationConfiguration: { EventBridgeConfiguration: {} },
      }),
    );
  }
  const queue = await ruleToQueue(events, sqs, 's3-events', { source: ['aws.s3'] });
  return async () => (await drainQueue(sqs, queue.url)).map((body) => JSON.parse(body));
}

/** The CloudTrail sample, made about a worker of this world. */
function trailEvent(
  instanceId: string,
  overrides: { time?: Date; delivery?: string; bucket?: string; account?: string } = {},
) {
  const sample = JSON.parse(
    readFileSync(join(__dirname, '../../events/s3-cloudtrail-get-object.json'), 'utf8'),
  ) as {
    detail: {
      userIdentity: { arn: string; sessionContext: { ec2RoleDelivery: string } };
      requestParameters: { bucketName: string };
      eventTime: string;
    };
  };
  const { detail } = sample;
  detail.userIdentity.arn = workerSession(world.workerRoleName, instanceId, overrides.account);
  detail.userIdentity.sessionContext.ec2RoleDelivery = overrides.delivery ?? '2.0';
  detail.requestParameters.bucketName = overrides.bucket ?? world.fleetBucket;
  detail.eventTime = (overrides.time ?? new Date()).toISOString();
  return sample;
}

/** Notifications other than the launches' of the test's own set-up. */
const alertsPublished = async () =>
  (await world.notifications()).filter((notification) => notification.kind !== 'launch');

const describeCalls = () =>
  emulator().requests.filter((request) => request.action === 'DescribeInstances').length;

describe('logS3Access against the emulator', () => {
  it('logs an object a worker writes to the fleet bucket, attributed to the worker by its address', async () => {
    const { spec, worker } = await workerAtEventAddress();
    const s3Events = await captureS3Events();

    await world.s3.send(
      new PutObjectCommand({ Bucket: world.fleetBucket, Key: 'results/part 1.json', Body: 'x'.repeat(2048) }),
    );
    const [event] = await s3Events();
    const result = await logS3Access(deps(spec), event);

    expect(result).toMatchObject({ input: 'event', records: 1, attributed: 1, malformed: 0, alerts: [] });
    expect(accessLines()).toEqual([
      expect.objectContaining({
        source: 'event',
        bucket: world.fleetBucket,
        key: 'results/part 1.json',
        operation: 'PutObject',
        status: 200,
        bytes: 2048,
        sourceIp: '1.2.3.4',
        instanceId: worker,
        fleet: 'batch',
        launchReason: 'direct',
        triggerId: 'launch-1',
        instanceState: 'running',
      }),
    ]);
  });

  it('attributes 1,000 object events of a worker, one invocation each, with one DescribeInstances a minute', async () => {
    const { spec, worker } = await workerAtEventAddress();
    const s3Events = await captureS3Events();
    await world.s3.send(new PutObjectCommand({ Bucket: world.fleetBucket, Key: 'results/x', Body: 'x' }));
    const [event] = await s3Events();
    let clock = Date.parse('2026-11-25T09:00:00Z');
    // The handler's lookups, kept across its invocations.
    const lookups = new WorkerLookups(() => clock);
    const describes = () => emulator().sent('DescribeInstances').length;
    const before = describes();

    let attributed = 0;
    for (let object = 0; object < 1000; object += 1) {
      clock += 50;
      attributed += (await logS3Access({ ...deps(spec), lookups }, event)).attributed;
    }
    const withinAMinute = describes() - before;
    clock += WORKER_LOOKUP_TTL_MS;
    await logS3Access({ ...deps(spec), lookups }, event);

    expect({ attributed, withinAMinute, aMinuteLater: describes() - before }).toEqual({
      attributed: 1000,
      withinAMinute: 1,
      aMinuteLater: 2,
    });
    expect(accessLines().at(-1)).toMatchObject({ instanceId: worker, fleet: 'batch' });
  });

  it('streams a several-MB access log landing in the log bucket: one attributed record per line, each worker looked up once', async () => {
    const workers = await launch(fleets(), 2);
    const s3Events = await captureS3Events();
    const lines: string[] = [];
    const start = Date.now() - 3_600_000;
    for (let n = 0; n < 20_000; n += 1) {
      const stranger = n % 10 === 9;
      lines.push(
        accessLogLine({
          bucket: world.fleetBucket,
          time: new Date(start + n * 100),
          requester: stranger ? '-' : workerSession(world.workerRoleName, workers[n % 2] ?? ''),
          operation: n % 3 === 0 ? 'REST.PUT.OBJECT' : 'REST.GET.OBJECT',
          key: `results/batch ${n % 7}/part-${n}.json`,
          status: 200,
          bytes: 100 + n,
          remoteIp: `10.0.0.${n % 250}`,
          requestId: `REQ${n}`,
        }),
      );
    }
    // A truncated line and a garbage line in the middle: reported, and the lines around them still logged.
    const cut = lines[5000] ?? '';
    lines.splice(5000, 0, cut.slice(0, cut.indexOf('"') + 10), 'garbage that is no log line');
    const body = `${lines.join('\n')}\n`;
    expect(body.length).toBeGreaterThan(5 * 1024 * 1024);

    await world.s3.send(
      new PutObjectCommand({
        Bucket: world.logBucket,
        Key: 'fleet/2026-11-25-10-05-12-5A7E1B3C9D2F4E60',
        Body: body,
      }),
    );
    const [event] = await s3Events();
    const before = describeCalls();
    const result = await logS3Access(deps(), event);

    expect(result).toMatchObject({
      input: `s3://${world.logBucket}/fleet/2026-11-25-10-05-12-5A7E1B3C9D2F4E60`,
      records: 20_000,
      attributed: 18_000,
      malformed: 2,
      malformedInputs: [
        { position: 'line 5001', error: expect.stringContaining('truncated') },
        { position: 'line 5002', error: expect.stringContaining('fields') },
      ],
      alerts: [],
    });
    expect(describeCalls() - before).toBe(2);
    const records = accessLines();
    expect(records).toHaveLength(20_000);
    expect(records[1]).toEqual(
      expect.objectContaining({
        source: 'access-log',
        operation: 'GetObject',
        key: 'results/batch 1/part-1.json',
        instanceId: workers[1],
        fleet: 'batch',
        principal: workerSession(world.workerRoleName, workers[1] ?? ''),
      }),
    );
    expect(records[9]).not.toHaveProperty('instanceId');
    expect(logged.filter((line) => line.level === 'error')).toEqual([
      expect.objectContaining({
        message: 'malformed access input',
        fields: expect.objectContaining({ position: 'line 5001' }),
      }),
      expect.objectContaining({
        message: 'malformed access input',
        fields: expect.objectContaining({ position: 'line 5002' }),
      }),
    ]);
  });

  it("ignores the state bucket's access logs without reading them", async () => {
    const s3Events = await captureS3Events();
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.logBucket, Key: 'state/2026-11-25-10-05-12-0123', Body: 'x' }),
    );
    const [event] = await s3Events();
    const result = await logS3Access(deps(), event);

    expect(result).toMatchObject({ records: 0, ignored: expect.stringContaining('fleet/') });
    expect(
      emulator().requests.filter((request) => request.method === 'GET' && request.path.includes('state/')),
    ).toEqual([]);
  });

  it("logs a CloudTrail data event with the worker's instance id, fleet and credential delivery", async () => {
    const [worker] = await launch(fleets(), 1);

    const result = await logS3Access(deps(), trailEvent(worker ?? ''));

    expect(result).toMatchObject({ input: 'trail', records: 1, attributed: 1, alerts: [] });
    expect(accessLines()).toEqual([
      expect.objectContaining({
        source: 'trail',
        operation: 'GetObject',
        key: 'inputs/batch/2026-11-25/chunk-0042.csv',
        bytes: 1048576,
        status: 200,
        instanceId: worker,
        fleet: 'batch',
        credentialDelivery: '2.0',
        requestId: '8E2C5F1A9B3D7E40',
      }),
    ]);
  });

  it('alerts when a worker took its credentials through IMDSv1', async () => {
    const [worker] = await launch(fleets(), 1);

    const result = await logS3Access(deps(), trailEvent(worker ?? '', { delivery: '1.0' }));

    expect(result.alerts).toEqual([
      expect.objectContaining({ kind: 'imdsv1-credentials', instanceId: worker }),
    ]);
    expect(await alertsPublished()).toEqual([
      expect.objectContaining({ kind: 'imdsv1-credentials', fleet: 'batch' }),
    ]);
  });

  it("alerts when a terminated worker's credentials are used, and not for what it did while it ran", async () => {
    const [worker] = await launch(fleets(), 1);
    const hourAgo = new Date(Date.now() - 3_600_000);
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [worker ?? ''] }));

    const before = await logS3Access(deps(), trailEvent(worker ?? '', { time: hourAgo }));
    // EC2 says when it ended to the second, as logs say when an access was: the same second is not "after".
    const endedAt = (await describeWorker(world.ec2, worker ?? ''))?.stateChangedAt;
    expect(endedAt).toBeInstanceOf(Date);
    const sameSecond = await logS3Access(deps(), trailEvent(worker ?? '', { time: endedAt }));
    const after = await logS3Access(
      deps(),
      trailEvent(worker ?? '', { time: new Date(Date.now() + 60_000) }),
    );

    expect(before.alerts).toEqual([]);
    expect(sameSecond.alerts).toEqual([]);
    expect(after.alerts).toEqual([
      expect.objectContaining({
        kind: 'access-after-termination',
        instanceId: worker,
        fleet: 'batch',
        count: 1,
      }),
    ]);
    const [notification] = await alertsPublished();
    expect(notification).toMatchObject({
      kind: 'access-after-termination',
      fleet: 'batch',
      subject: expect.stringContaining(worker ?? ''),
      body: expect.objectContaining({ instanceId: worker, keys: ['inputs/batch/2026-11-25/chunk-0042.csv'] }),
    });
  });

  it('alerts once on a burst of access denied in one log, with the count', async () => {
    const [worker] = await launch(fleets(), 1);
    const s3Events = await captureS3Events();
    const denied = (n: number) =>
      accessLogLine({
        bucket: world.fleetBucket,
        time: new Date(Date.now() - 60_000 + n),
        requester: workerSession(world.workerRoleName, worker ?? ''),
        operation: 'REST.GET.OBJECT',
        key: `secrets/${n}`,
        status: 403,
        errorCode: 'AccessDenied',
        bytes: 243,
        remoteIp: '10.0.0.9',
        requestId: `DENIED${n}`,
      });
    const body = Array.from({ length: DENIED_BURST + 2 }, (_, n) => denied(n)).join('\n');
    await world.s3.send(new PutObjectCommand({ Bucket: world.logBucket, Key: 'fleet/denied', Body: body }));

    const result = await logS3Access(deps(), (await s3Events())[0]);

    expect(result.alerts).toEqual([
      expect.objectContaining({ kind: 'access-denied-burst', instanceId: worker, count: DENIED_BURST + 2 }),
    ]);
    expect((await alertsPublished()).map((notification) => notification.kind)).toEqual([
      'access-denied-burst',
    ]);
  });

  it('rejects a malformed event with what is wrong in it, and touches nothing', async () => {
    const before = emulator().requests.length;
    const malformed = logS3Access(deps(), {
      'detail-type': 'Object Created',
      source: 'aws.s3',
      id: 'e-1',
      time: '2026-11-25T09:00:00Z',
      detail: { bucket: {} },
    });

    await expect(malformed).rejects.toThrow(InvalidEventError);
    await expect(malformed).rejects.toThrow(/detail\.bucket\.name/);
    expect(emulator().requests.slice(before)).toEqual([]);
  });

  it('skips the lines of another bucket in a log file, through the deployed handler: counted, told at warn once per bucket', async () => {
    const [worker] = await launch(fleets(), 1);
    const s3Events = await captureS3Events();
    const request = (bucket: string, n: number) =>
      accessLogLine({
        bucket,
        time: new Date(Date.now() - 60_000 + n),
        requester: workerSession(world.workerRoleName, worker ?? ''),
        operation: 'REST.GET.OBJECT',
        key: `results/${n}.json`,
        status: 200,
        bytes: 10,
        remoteIp: '10.0.0.9',
        requestId: `REQ${n}`,
      });
    const body = [
      request(world.fleetBucket, 1),
      request('someone-elses-bucket', 2),
      request('someone-elses-bucket', 3),
      request(world.stateBucket, 4),
      request(world.fleetBucket, 5),
    ].join('\n');
    await world.s3.send(new PutObjectCommand({ Bucket: world.logBucket, Key: 'fleet/mixed', Body: body }));
    const [event] = await s3Events();
    // The function as Lambda loads it: its configuration and clients built at init, from its environment.
    Object.assign(process.env, { AWS_ENDPOINT_URL: emulator().endpoint, ...world.env() });
    const { handler } = await import('../../src/handlers/log-s3-access');

    const result = await handler(event, lambdaContext('worker-fleet-test-logS3Access', 60_000, 'request-1'));

    expect(result).toMatchObject({ records: 2, attributed: 2, skipped: 3, malformed: 0 });
    expect(accessLines().map((line) => line.key)).toEqual(['results/1.json', 'results/5.json']);
    expect(logged.filter((line) => line.level === 'warn')).toEqual([
      {
        level: 'warn',
        message: 'access to another bucket skipped',
        fields: { bucket: 'someone-elses-bucket', position: 'line 2' },
      },
      {
        level: 'warn',
        message: 'access to another bucket skipped',
        fields: { bucket: world.stateBucket, position: 'line 4' },
      },
    ]);
  });

  it('skips a CloudTrail record of another bucket: counted, told at warn, never logged as an access', async () => {
    const [worker] = await launch(fleets(), 1);

    const result = await logS3Access(deps(), trailEvent(worker ?? '', { bucket: 'someone-elses-bucket' }));

    expect(result).toMatchObject({
      records: 0,
      skipped: 1,
      ignored: expect.stringContaining('not the fleet bucket'),
    });
    expect(accessLines()).toEqual([]);
    expect(logged.filter((line) => line.level === 'warn')).toEqual([
      expect.objectContaining({
        message: 'access to another bucket skipped',
        fields: { bucket: 'someone-elses-bucket', position: 'trail' },
      }),
    ]);
  });

  it("does not attribute another account's session of a role named like the worker role, named after our worker", async () => {
    const [worker] = await launch(fleets(), 1);

    const result = await logS3Access(deps(), trailEvent(worker ?? '', { account: '210987654321' }));

    expect(result).toMatchObject({ records: 1, attributed: 0, alerts: [] });
    expect(accessLines()).toEqual([expect.not.objectContaining({ instanceId: expect.anything() })]);
  });

  it("does not attribute an access to an instance that is not this deployment's", async () => {
    const stranger = await world.ec2.send(
      new RunInstancesCommand({
        ImageId: world.imageId,
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: TAG.fleet, Value: 'batch' }] }],
      }),
    );
    const strangerId = stranger.Instances?.[0]?.InstanceId ?? '';

    await logS3Access(deps(), trailEvent(strangerId));

    expect(accessLines()).toEqual([expect.not.objectContaining({ fleet: expect.anything() })]);
    expect(accessLines()[0]).toMatchObject({ instanceId: strangerId });
  });
});
