import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTagsCommand, ModifyInstanceAttributeCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateInstanceProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { listFleetWorkers } from '../../src/aws/ec2-workers';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { reapIdleWorkers } from '../../src/fleet/reap-idle-workers';
import { logger } from '../../src/logger';
import { NO_FLEET } from '../../src/model/fleet-metrics';
import { heartbeatKey } from '../../src/model/heartbeat';
import { TAG } from '../../src/model/tags';
import { AgentProcess, eventually } from './agent-process';
import { batchFleets, launchBatch } from './batch-fleet';
import { FakeImds } from './fake-imds';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();
let world: FleetWorld;

beforeEach(async () => {
  world = await createFleetWorld(emulator());
});

const minutesFromNow = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

// The idle verdicts alone: no drain grace, so a worker due is terminated by the run that finds it due (the graceful
// path has its own tests, test/integration/retirement.test.ts).
const fleets = (idle: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) =>
  batchFleets(world, { targetCapacity: 6, drainGraceMinutes: 0 }, overrides, idle);

const launch = (spec: Record<string, unknown>, count: number, fleet = 'batch') =>
  launchBatch(world, spec, count, `setup-${count}-${Math.random()}`, fleet);

/** Writes a heartbeat the way the worker agent does: the status word alone, at heartbeats/<role-id>:<instance-id>. */
async function heartbeat(instanceId: string, body: string) {
  await world.s3.send(
    new PutObjectCommand({
      Bucket: world.fleetBucket,
      Key: heartbeatKey(world.workerRoleId, instanceId),
      Body: body,
    }),
  );
}

async function tag(instanceId: string, key: string, value: string) {
  await world.ec2.send(
    new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: key, Value: value }] }),
  );
}

/** An instance's tags; an instance that is not there fails the test, so that a missing tag is never vacuous. */
async function tagsOf(instanceId: string): Promise<Record<string, string>> {
  const [instance] = (await world.instances()).filter((candidate) => candidate.InstanceId === instanceId);
  if (instance === undefined) throw new Error(`no instance ${instanceId} to read the tags of`);
  return Object.fromEntries((instance.Tags ?? []).map(({ Key, Value }) => [Key ?? '', Value ?? '']));
}

async function stateOf(instanceId: string) {
  return (await world.instances()).find((instance) => instance.InstanceId === instanceId)?.State?.Name;
}

async function foreignInstance(tags: Record<string, string>, instanceProfile?: string): Promise<string> {
  const output = await world.ec2.send(
    new RunInstancesCommand({
      ImageId: world.imageId,
      MinCount: 1,
      MaxCount: 1,
      IamInstanceProfile: instanceProfile === undefined ? undefined : { Name: instanceProfile },
      TagSpecifications:
        Object.keys(tags).length === 0
          ? undefined
          : [
              {
                ResourceType: 'instance',
                Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
              },
            ],
    }),
  );
  return output.Instances?.[0]?.InstanceId ?? '';
}

describe('reapIdleWorkers', () => {
  it('marks exactly the idle fleet workers, terminates them at a later run, and never touches anything else', async () => {
    const spec = fleets();
    const [idle, busy, noHeartbeat, guarded, draining] = await launch(spec, 5);
    const untagged = await foreignInstance({});
    const otherStage = await foreignInstance({ [TAG.managedBy]: 'worker-fleet-prod', [TAG.fleet]: 'batch' });
    for (const id of [idle, guarded, draining, untagged, otherStage]) await heartbeat(id ?? '', 'idle');
    await heartbeat(busy ?? '', 'busy');
    await tag(guarded ?? '', TAG.protected, 'true');
    await tag(draining ?? '', TAG.interruptedAt, new Date().toISOString());

    const [first] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    const [second] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(12)));
    const [third] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(13)));

    expect(first?.marked.map((worker) => worker.instanceId).sort()).toEqual([idle, guarded].sort());
    expect(first?.terminated).toEqual([]);
    expect(first?.marked.find((worker) => worker.instanceId === idle)?.explanation).toBe(
      'idle: heartbeat reports idle 1m ago',
    );
    expect((await tagsOf(idle ?? ''))[TAG.idleReason]).toBe('heartbeat');
    expect(second?.terminated.map((worker) => worker.instanceId)).toEqual([idle]);
    expect(third?.terminated).toEqual([]);
    expect(await stateOf(idle ?? '')).toBe('terminated');
    for (const id of [busy, noHeartbeat, guarded, draining, untagged, otherStage]) {
      expect({ id, state: await stateOf(id ?? '') }).toEqual({ id, state: 'running' });
    }
    expect(await tagsOf(untagged)).toEqual({});
    expect(Object.keys(await tagsOf(otherStage))).not.toContain(TAG.idleSince);
    expect(Object.keys(await tagsOf(draining ?? ''))).not.toContain(TAG.idleSince);
    expect(
      emulator()
        .sent('TerminateInstances')
        .flatMap(({ params }) => [...params.values()].filter((v) => v.startsWith('i-'))),
    ).toEqual([idle]);

    const kinds = (await world.notifications()).map((notification) => notification.kind);
    expect(kinds.filter((kind) => kind === 'idle-warning')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'idle-terminated')).toHaveLength(1);
  });

  it("never marks nor terminates an instance tagged by hand as this deployment's worker, without the worker instance profile", async () => {
    const spec = fleets();
    const [worker] = await launch(spec, 1);
    const config = world.config(spec);
    const asWorker = { [TAG.managedBy]: config.managedBy, [TAG.fleet]: 'batch' };
    const handTagged = await foreignInstance(asWorker);
    const iam = new IAMClient(clientConfig(emulator()));
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'someone-elses' }));
    const otherProfile = await foreignInstance(asWorker, 'someone-elses');
    for (const id of [worker ?? '', handTagged, otherProfile]) await heartbeat(id, 'idle');

    // moto describes each instance's IamInstanceProfile (the proxy gives it to every instance of a launch, as EC2
    // does; moto drops it at termination): the ownership check reads what it says.
    const profiles = Object.fromEntries(
      (await world.instances()).map((instance) => [instance.InstanceId, instance.IamInstanceProfile?.Arn]),
    );
    expect(profiles[worker ?? '']).toMatch(new RegExp(`:instance-profile/${world.instanceProfile}$`));
    expect(profiles[handTagged]).toBeUndefined();
    expect(profiles[otherProfile]).toMatch(/:instance-profile\/someone-elses$/);

    const [first] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    const [second] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(12)));

    expect(first?.workers).toBe(1);
    expect(first?.marked.map((marked) => marked.instanceId)).toEqual([worker]);
    expect(second?.terminated.map((terminated) => terminated.instanceId)).toEqual([worker]);
    for (const id of [handTagged, otherProfile]) {
      expect({ id, state: await stateOf(id) }).toEqual({ id, state: 'running' });
      expect({ id, tags: await tagsOf(id) }).toEqual({ id, tags: asWorker });
    }
  });

  it("reads only the worker role's heartbeat keys: an old key or another principal's says nothing", async () => {
    const spec = fleets();
    const [worker] = await launch(spec, 1);
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.fleetBucket, Key: `heartbeats/${worker}`, Body: 'idle' }),
    );
    await world.s3.send(
      new PutObjectCommand({
        Bucket: world.fleetBucket,
        Key: `heartbeats/AROAOTHERROLE00000001:${worker}`,
        Body: 'idle',
      }),
    );

    const [misled] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    await heartbeat(worker ?? '', 'idle');
    const [told] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(2)));

    expect(misled?.marked).toEqual([]);
    expect(told?.marked.map((marked) => marked.instanceId)).toEqual([worker]);
  });

  it('unmarks a worker that is busy again', async () => {
    const spec = fleets();
    const [worker] = await launch(spec, 1);
    await heartbeat(worker ?? '', 'idle');
    await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    await heartbeat(worker ?? '', 'busy');

    const [result] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(12)));

    expect(result?.unmarked.map((unmarked) => unmarked.instanceId)).toEqual([worker]);
    expect(result?.terminated).toEqual([]);
    expect(Object.keys(await tagsOf(worker ?? ''))).not.toContain(TAG.idleSince);
  });

  it('terminates nothing on a dry run, and says what it would do', async () => {
    const spec = fleets();
    const [worker] = await launch(spec, 1);
    await heartbeat(worker ?? '', 'idle');
    await tag(worker ?? '', TAG.idleSince, new Date(Date.now() - 60 * 60_000).toISOString());

    const [result] = await reapIdleWorkers(
      world.reapDeps(spec, minutesFromNow(1), { WORKER_FLEET_DRY_RUN: 'true' }),
    );

    expect(result).toMatchObject({ dryRun: true, terminated: [], marked: [] });
    expect(result?.wouldTerminate.map((would) => would.instanceId)).toEqual([worker]);
    expect(await stateOf(worker ?? '')).toBe('running');
    expect(emulator().sent('TerminateInstances')).toHaveLength(0);
    expect(emulator().sent('CreateTags').length).toBe(1);
    expect((await world.notifications()).map((notification) => notification.kind)).toContain('idle-dry-run');
  });

  it('reports a throttled terminate of one worker and terminates the rest', async () => {
    const spec = fleets();
    const workers = await launch(spec, 3);
    for (const id of workers) {
      await heartbeat(id, 'idle');
      await tag(id, TAG.idleSince, new Date(Date.now() - 60 * 60_000).toISOString());
    }
    const throttled = workers[1] ?? '';
    emulator().faults.push({
      action: 'TerminateInstances',
      when: (params) => [...params.values()].includes(throttled),
      code: 'RequestLimitExceeded',
      status: 503,
    });

    const [result] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));

    expect(result?.failed).toEqual([
      expect.objectContaining({ instanceId: throttled, code: 'RequestLimitExceeded' }),
    ]);
    expect(result?.terminated.map((worker) => worker.instanceId).sort()).toEqual(
      workers.filter((id) => id !== throttled).sort(),
    );
    expect(await stateOf(throttled)).toBe('running');
  });

  it('keeps workers with termination protection, and the scale-in floor', async () => {
    const spec = fleets({ minWorkers: 1 });
    const [shielded, first, second] = await launch(spec, 3);
    for (const id of [shielded, first, second]) {
      await heartbeat(id ?? '', 'idle');
      await tag(id ?? '', TAG.idleSince, new Date(Date.now() - 60 * 60_000).toISOString());
    }
    await world.ec2.send(
      new ModifyInstanceAttributeCommand({ InstanceId: shielded, DisableApiTermination: { Value: true } }),
    );

    const [result] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));

    expect(result?.terminated).toHaveLength(1);
    expect(result?.protected).toEqual([shielded]);
    expect(result?.failed).toEqual([]);
    expect(await stateOf(shielded ?? '')).toBe('running');
    expect((await world.instances()).filter((instance) => instance.State?.Name === 'running')).toHaveLength(
      2,
    );
  });

  it('judges CPU over the window, every datapoint, and treats missing data as unknown', async () => {
    const spec = fleets({
      heartbeatTimeoutMinutes: undefined,
      cpu: { belowPercent: 5, maxPercent: 20, windowMinutes: 15 },
    });
    const [quiet, bursty, silent] = await launch(spec, 3);
    const put = async (instanceId: string, values: number[]) =>
      world.cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: 'AWS/EC2',
          MetricData: values.map((value, index) => ({
            MetricName: 'CPUUtilization',
            Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
            Timestamp: new Date(Date.now() - (index + 1) * 60_000),
            Value: value,
            Unit: 'Percent',
          })),
        }),
      );
    await put(quiet ?? '', [1.2, 0.8, 2]);
    await put(bursty ?? '', [1, 1, 2, 45]);

    const [result] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(0)));

    expect(result?.marked.map((worker) => worker.instanceId)).toEqual([quiet]);
    expect(result?.marked[0]?.explanation).toBe('idle: cpu 2% < 5%');
    expect(result?.verdicts).toEqual({ idle: 1, busy: 1, unknown: 1 });
    expect(Object.keys(await tagsOf(silent ?? ''))).not.toContain(TAG.idleSince);
    expect(Object.keys(await tagsOf(bursty ?? ''))).not.toContain(TAG.idleSince);
  });

  it('reads a heartbeat whose body is not a bare status word', async () => {
    const spec = fleets();
    const [worker] = await launch(spec, 1);
    await heartbeat(worker ?? '', JSON.stringify({ status: 'idle', jobs: 0 }));

    const [result] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));

    expect(result?.marked.map((marked) => marked.instanceId)).toEqual([worker]);
    const reads = emulator().requests.filter(
      ({ method, path }) => method === 'GET' && path.includes('/heartbeats/'),
    );
    expect(reads).toHaveLength(1);
  });

  it('judges a worker whose heartbeat it cannot read (archived, empty) unknown, says so, and still judges every other worker and fleet', async () => {
    const spec = { ...fleets(), other: fleets().batch };
    const [archived, empty, idle] = await launch(spec, 3);
    const [otherIdle] = await launch(spec, 1, 'other');
    // A body whose ETag tells no status, so that the reaper has to read it: GetObject answers InvalidObjectState.
    await world.s3.send(
      new PutObjectCommand({
        Bucket: world.fleetBucket,
        Key: heartbeatKey(world.workerRoleId, archived ?? ''),
        Body: 'idle\n',
        StorageClass: 'GLACIER',
      }),
    );
    await heartbeat(empty ?? '', '');
    for (const id of [idle, otherIdle]) await heartbeat(id ?? '', 'idle');
    const warnings: { message: unknown; instanceId?: unknown; error?: unknown }[] = [];
    jest.spyOn(logger, 'warn').mockImplementation((message, ...extras) => {
      warnings.push({ message, ...(extras[0] as object) });
    });
    const deps = world.reapDeps(spec, minutesFromNow(1));

    const results = await reapIdleWorkers(deps);

    expect(results.map(({ fleet, marked }) => [fleet, marked.map(({ instanceId }) => instanceId)])).toEqual([
      ['batch', [idle]],
      ['other', [otherIdle]],
    ]);
    expect(results[0]?.verdicts).toEqual({ idle: 1, unknown: 2 });
    const unreadable = warnings.filter(
      ({ message }) => message === 'heartbeat unreadable, worker judged unknown',
    );
    // S3 answers a range of an empty object with InvalidRange (416).
    expect(new Map(unreadable.map(({ instanceId, error }) => [instanceId, error]))).toEqual(
      new Map([
        [archived, 'InvalidObjectState'],
        [empty, 'InvalidRange'],
      ]),
    );
    expect(unreadable).toHaveLength(2);
    expect(world.metrics.sum('HeartbeatsUnreadable', { fleet: NO_FLEET })).toBe(2);
    for (const id of [archived, empty]) expect(await tagsOf(id ?? '')).not.toHaveProperty(TAG.idleSince);
  });

  it('lowers the fleet size by the idle workers it terminates, so the reconciliation launches none of them again', async () => {
    const spec = fleets({ minWorkers: 1, terminateAfterMinutes: 0 }, { targetCapacity: 1, maxCapacity: 4 });
    const workers = await launch(spec, 3);
    for (const id of workers) await heartbeat(id, 'idle');
    await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    const [run] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(2)));

    const [tick] = await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });

    expect(run?.terminated).toHaveLength(2);
    expect(tick).toMatchObject({ desired: 1, launched: [] });
  });

  it('lowers the fleet size before it terminates, so a reconciliation in between launches nothing', async () => {
    const spec = fleets({ minWorkers: 1, terminateAfterMinutes: 0 }, { targetCapacity: 1, maxCapacity: 4 });
    const workers = await launch(spec, 3);
    for (const id of workers) await heartbeat(id, 'idle');
    await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    // Frozen as it records the request that lowers the fleet's size.
    emulator().faults.push({
      action: 'PutItem',
      when: (_params, { body }) => body.includes('request#reap-'),
      code: 'Frozen',
      freeze: true,
      times: 1,
    });
    reapIdleWorkers(world.reapDeps(spec, minutesFromNow(2))).catch(() => undefined);
    await emulator().nextFrozen();

    const [tick] = await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });

    expect(tick?.launched).toEqual([]);
  });

  it('spends one call per page: DescribeInstances (the fleet, and every fleet for orphans), DescribeInstanceStatus (the backstop of scheduled changes), ListObjectsV2, CreateTags for a run that marks, three for its lease and one Query of its facts', async () => {
    const spec = fleets();
    const workers = await launch(spec, 4);
    for (const id of workers) await heartbeat(id, 'idle');
    const deps = world.reapDeps(spec, minutesFromNow(1));

    await reapIdleWorkers(deps);

    // The fleet's reaper lease: taken by one conditional write, given back by another, its fence checked once before
    // the run acts. Its facts (retirements) in one Query. The idle warning goes to the topic and on the bus.
    expect(deps.calls?.snapshot()).toEqual({
      total: 11,
      calls: {
        'DynamoDB.Query': 1,
        'DynamoDB.TransactWriteItems': 1,
        'DynamoDB.UpdateItem': 2,
        'EC2.CreateTags': 1,
        'EC2.DescribeInstanceStatus': 1,
        'EC2.DescribeInstances': 2,
        'EventBridge.PutEvents': 1,
        'S3.ListObjectsV2': 1,
        'SNS.Publish': 1,
      },
    });
  });
});

describe('reapIdleWorkers with the worker agent', () => {
  it('marks the worker whose agent reports idle, and keeps the one whose agent reports busy', async () => {
    const spec = fleets();
    const [idleWorker, busyWorker] = await launch(spec, 2);
    const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-status-'));
    const agents: AgentProcess[] = [];
    const imdsServers: FakeImds[] = [];
    try {
      for (const [instanceId, status] of [
        [idleWorker, 'idle'],
        [busyWorker, 'busy'],
      ] as const) {
        const imds = await FakeImds.start(instanceId ?? '');
        imdsServers.push(imds);
        writeFileSync(join(dir, `${status}`), `${status}\n`);
        agents.push(
          AgentProcess.start({
            imds,
            emulator: emulator(),
            bucket: world.fleetBucket,
            env: { WF_BUSY_FILE: join(dir, status), WF_ROLE_ID: world.workerRoleId },
          }),
        );
      }
      await eventually(
        async () =>
          (await world.s3.send(new ListObjectsV2Command({ Bucket: world.fleetBucket }))).KeyCount ?? 0,
        (count) => count === 2,
      );

      const [result] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));

      expect(result?.marked.map((worker) => worker.instanceId)).toEqual([idleWorker]);
      expect(result?.marked[0]?.explanation).toMatch(/^idle: heartbeat reports idle/);
    } finally {
      for (const agent of agents) agent.kill();
      for (const imds of imdsServers) await imds.stop();
    }
  });
});

describe('listFleetWorkers', () => {
  it('follows every page', async () => {
    const spec = fleets();
    for (let round = 0; round < 5; round += 1) await launch(fleets({}, { targetCapacity: 6 }), round + 1);
    const config = world.config(spec);
    emulator().requests.length = 0;

    const workers = await listFleetWorkers(world.ec2, { ...config, fleet: 'batch' }, 2);

    expect(workers).toHaveLength(5);
    expect(emulator().sent('DescribeInstances')).toHaveLength(3);
  });
});
