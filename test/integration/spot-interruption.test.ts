import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { InvalidEventError } from '../../src/errors';
import { parseInstanceEvent } from '../../src/events/instance';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { handleInstanceEvent } from '../../src/fleet/spot-interruption';
import { TAG } from '../../src/model/tags';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { instanceEvents, spotFleet } from './spot-fleet';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
let world: FleetWorld;

beforeEach(async () => {
  world = await createFleetWorld(emulator());
});

const fleets = (overrides: Record<string, unknown> = {}) => spotFleet(world, overrides);

/** Launches the fleet through the launcher and returns its one worker. */
async function oneWorker(spec = fleets()) {
  const [result] = await launchWorkers(world.deps(spec), { kind: 'direct', id: 'setup', fleet: 'batch' });
  const worker = result?.launched[0];
  if (worker === undefined) throw new Error('setup launched no worker');
  const [instance] = await world.instances({ tag: TAG.triggerId, value: 'setup' });
  return { ...worker, availabilityZone: instance?.Placement?.AvailabilityZone ?? '' };
}

const warning = (instanceId: string, time = new Date(), id = 'warning-1') =>
  instanceEvents.warning(instanceId, { time, id });
const { rebalance, stateChange } = instanceEvents;

/** Delivers the warning while the emulator fails `action`, then again once it works: the retry's result. */
async function failThenRetry(instanceId: string, action: string) {
  const deps = world.interruptionDeps(fleets());
  emulator().faults.push({ action, code: 'InternalError', status: 500 });
  await expect(handleInstanceEvent(deps, warning(instanceId))).rejects.toThrow();
  emulator().faults.length = 0;
  return handleInstanceEvent(deps, warning(instanceId));
}

async function replacementsOf(instanceId: string) {
  return world.replacementsOf(instanceId);
}

describe('handleInstanceEvent: spot interruption warning', () => {
  it('notifies, tags, emits Worker Draining and launches exactly one replacement in another pool', async () => {
    const worker = await oneWorker();
    const time = new Date();

    const result = await handleInstanceEvent(
      world.interruptionDeps(fleets()),
      warning(worker.instanceId, time),
    );

    expect(result).toMatchObject({ status: 'replaced', fleet: 'batch', replacement: { status: 'launched' } });
    const [replacement, ...more] = await replacementsOf(worker.instanceId);
    expect(more).toHaveLength(0);
    expect(`${replacement?.InstanceType}@${replacement?.SubnetId}`).not.toBe(
      `${worker.instanceType}@${worker.subnetId}`,
    );
    expect(replacement?.InstanceLifecycle).toBe('spot');
    expect(replacement?.Tags).toEqual(
      expect.arrayContaining([
        { Key: TAG.launchReason, Value: 'replacement' },
        { Key: TAG.managedBy, Value: 'worker-fleet-test' },
      ]),
    );

    const [old] = await world.instances({ tag: TAG.triggerId, value: 'setup' });
    expect(old?.Tags).toEqual(
      expect.arrayContaining([
        { Key: TAG.interruption, Value: 'terminate' },
        expect.objectContaining({ Key: TAG.interruptedAt }),
      ]),
    );
    const deadline = new Date(time.getTime() + 120_000).toISOString();
    const notifications = (await world.notifications()).filter((n) => n.kind !== 'launch');
    expect(notifications.map((n) => n.kind)).toEqual(['spot-interruption', 'replacement']);
    expect(notifications[0]?.body).toMatchObject({
      instanceId: worker.instanceId,
      fleet: 'batch',
      instanceType: worker.instanceType,
      availabilityZone: worker.availabilityZone,
      action: 'terminate',
      deadline,
      correlationId: 'warning-1',
    });
    expect(notifications[1]?.body).toMatchObject({
      correlationId: 'warning-1',
      replacement: { status: 'launched', instanceIds: [replacement?.InstanceId] },
    });
    expect(await world.drainingEvents()).toEqual([
      expect.objectContaining({
        instanceId: worker.instanceId,
        fleet: 'batch',
        reason: 'spot-interruption',
        deadline,
      }),
    ]);
  });

  it('publishes the notification before it asks EC2 for the replacement', async () => {
    const worker = await oneWorker();
    emulator().requests.length = 0;

    await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    const actions = emulator().requests.map((request) => request.action);
    expect(actions.indexOf('Publish')).toBeGreaterThanOrEqual(0);
    expect(actions.indexOf('Publish')).toBeLessThan(actions.indexOf('RunInstances'));
    expect(
      actions.slice(0, actions.indexOf('Publish')).filter((action) => action === 'DescribeInstances'),
    ).toHaveLength(1);
  });

  it('notifies from the registry without waiting for EC2, even when EC2 cannot answer', async () => {
    const worker = await oneWorker();
    emulator().faults.push({ action: 'DescribeInstances', code: 'InternalError', status: 500 });

    await expect(
      handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
    ).rejects.toThrow();

    const notifications = (await world.notifications()).filter((n) => n.kind !== 'launch');
    expect(notifications.map((n) => n.kind)).toEqual(['spot-interruption']);
    expect(notifications[0]?.body).toMatchObject({
      instanceId: worker.instanceId,
      fleet: 'batch',
      instanceType: worker.instanceType,
      subnetId: worker.subnetId,
    });
  });

  it('finishes on a retry what a delivery that failed left undone, without notifying twice', async () => {
    const worker = await oneWorker();

    const retry = await failThenRetry(worker.instanceId, 'DescribeInstances');

    expect(retry).toMatchObject({ status: 'replaced', replacement: { status: 'launched' } });
    const kinds = (await world.notifications()).map((n) => n.kind).filter((kind) => kind !== 'launch');
    expect(kinds).toEqual(['spot-interruption', 'replacement']);
    expect(await world.drainingEvents()).toHaveLength(1);
    const [old] = await world.instances({ tag: TAG.triggerId, value: 'setup' });
    expect(old?.Tags).toEqual(expect.arrayContaining([{ Key: TAG.interruption, Value: 'terminate' }]));
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
  });

  it('notifies on a retry when the notification itself failed', async () => {
    const worker = await oneWorker();

    const retry = await failThenRetry(worker.instanceId, 'Publish');

    expect(retry).toMatchObject({ status: 'replaced' });
    const kinds = (await world.notifications()).map((n) => n.kind).filter((kind) => kind !== 'launch');
    expect(kinds).toEqual(['spot-interruption', 'replacement']);
    expect(await world.drainingEvents()).toHaveLength(1);
  });

  it('marks the worker on a retry when marking failed, and notifies it once', async () => {
    const worker = await oneWorker();

    const retry = await failThenRetry(worker.instanceId, 'CreateTags');

    // The replacement went out with the failed delivery: the retry marks, and launches nothing more.
    expect(retry).toMatchObject({ status: 'notified', replacement: { status: 'already-replaced' } });
    const [marked] = await world.instances({ tag: TAG.triggerId, value: 'setup' });
    expect(marked?.Tags).toEqual(expect.arrayContaining([{ Key: TAG.interruption, Value: 'terminate' }]));
    const kinds = (await world.notifications()).map((n) => n.kind);
    expect(kinds.filter((kind) => kind === 'spot-interruption')).toHaveLength(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    const again = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));
    expect(again).toMatchObject({ status: 'duplicate' });
  });

  it('notifies after asking EC2 when the registry does not know the worker', async () => {
    const worker = await oneWorker();
    await world.dynamodb.send(
      new DeleteItemCommand({
        TableName: world.stateTable,
        Key: { pk: { S: `worker#${worker.instanceId}` }, sk: { S: 'registry' } },
      }),
    );
    emulator().requests.length = 0;

    const result = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    expect(result).toMatchObject({ status: 'replaced', fleet: 'batch' });
    const actions = emulator().requests.map((request) => request.action);
    expect(actions.indexOf('DescribeInstances')).toBeLessThan(actions.indexOf('Publish'));
    const kinds = (await world.notifications()).map((n) => n.kind);
    expect(kinds.filter((kind) => kind === 'spot-interruption')).toHaveLength(1);
  });

  it('gives one replacement and one replacing notification for the same warning delivered 5 times in sequence', async () => {
    const worker = await oneWorker();
    const deps = world.interruptionDeps(fleets());

    const results = [];
    for (let delivery = 0; delivery < 5; delivery += 1) {
      results.push(await handleInstanceEvent(deps, warning(worker.instanceId)));
    }

    expect(results.map((result) => result.status)).toEqual([
      'replaced',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    const kinds = (await world.notifications()).map((n) => n.kind);
    expect(kinds.filter((kind) => kind === 'replacement')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'spot-interruption')).toHaveLength(1);
    expect(await world.drainingEvents()).toHaveLength(1);
  });

  it('gives one replacement for the same warning delivered 5 times concurrently', async () => {
    const worker = await oneWorker();
    const deps = world.interruptionDeps(fleets());

    const results = await Promise.all(
      Array.from({ length: 5 }, () => handleInstanceEvent(deps, warning(worker.instanceId))),
    );

    expect(results.filter((result) => result.status === 'replaced')).toHaveLength(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    const kinds = (await world.notifications()).map((n) => n.kind);
    expect(kinds.filter((kind) => kind === 'replacement')).toHaveLength(1);
  });

  it('changes nothing for an instance that is not a fleet worker', async () => {
    const other = await world.ec2.send(
      new RunInstancesCommand({ ImageId: world.imageId, MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = other.Instances?.[0]?.InstanceId ?? '';

    const result = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(instanceId));

    expect(result).toMatchObject({ status: 'not-ours', instanceId });
    const [instance] = await world.instances();
    expect(instance?.InstanceId).toBe(instanceId);
    expect(instance?.Tags ?? []).toEqual([]);
    expect(emulator().sent('RunInstances')).toHaveLength(1);
    expect(emulator().sent('CreateTags')).toHaveLength(0);
    expect(await world.notifications()).toHaveLength(0);
    expect(await world.stateKeys()).toEqual([]);
  });

  it.each([
    ["another deployment's managed-by tag", 'worker-fleet-prod'],
    [
      "this deployment's managed-by tag copied by hand, without the worker instance profile",
      'worker-fleet-test',
    ],
  ])(
    'changes nothing for an instance of a fleet no longer configured with %s and no registry record: not an orphan, not ours',
    async (_how, managedBy) => {
      // A worker cannot make itself ours: its tags are set at launch by the launcher, its role has no ec2:CreateTags,
      // and the registry is in the state table, which its role cannot reach (test/template/iam-simulation.test.ts).
      const other = await world.ec2.send(
        new RunInstancesCommand({
          ImageId: world.imageId,
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [
            {
              ResourceType: 'instance',
              Tags: [
                { Key: TAG.managedBy, Value: managedBy },
                { Key: TAG.fleet, Value: 'gone' },
              ],
            },
          ],
        }),
      );
      const instanceId = other.Instances?.[0]?.InstanceId ?? '';

      const result = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(instanceId));

      expect(result).toMatchObject({ status: 'not-ours', instanceId });
      expect(emulator().sent('CreateTags')).toHaveLength(0);
      expect(await world.notifications()).toHaveLength(0);
      expect(await world.drainingEvents()).toHaveLength(0);
      expect(await world.stateKeys()).toEqual([]);
    },
  );

  it('treats an instance EC2 no longer knows as not ours', async () => {
    const result = await handleInstanceEvent(
      world.interruptionDeps(fleets()),
      warning('i-0123456789abcdef0'),
    );

    expect(result).toMatchObject({ status: 'not-ours', reason: 'instance not found' });
    expect(await world.stateKeys()).toEqual([]);
  });

  it('drops a warning that is past its deadline', async () => {
    const worker = await oneWorker();
    const sent = new Date(Date.now() - 10 * 60_000);

    const result = await handleInstanceEvent(
      world.interruptionDeps(fleets()),
      warning(worker.instanceId, sent),
    );

    expect(result.status).toBe('stale');
    expect(result.reason).toMatch(/past its deadline/);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
    expect((await world.notifications()).filter((n) => n.kind !== 'launch')).toHaveLength(0);
  });

  it('falls back to on-demand when the only spot pool is the interrupted one', async () => {
    const spec = fleets({ instanceTypes: ['c7g.large'], subnets: [world.subnets[0]?.subnetId] });
    const worker = await oneWorker(spec);

    await handleInstanceEvent(world.interruptionDeps(spec), warning(worker.instanceId));

    const replacements = await replacementsOf(worker.instanceId);
    expect(replacements).toHaveLength(1);
    expect(replacements[0]?.InstanceLifecycle).toBeUndefined();
  });

  it('steers later launches away from the interrupted pool', async () => {
    const spec = fleets({ subnets: [world.subnets[0]?.subnetId], targetCapacity: 1, maxCapacity: 3 });
    const worker = await oneWorker(spec);
    await handleInstanceEvent(world.interruptionDeps(spec), warning(worker.instanceId));

    const [result] = await launchWorkers(world.deps(spec), {
      kind: 'direct',
      id: 'later',
      fleet: 'batch',
      target: 3,
    });

    const types = result?.launched.map((launched) => launched.instanceType);
    expect(types?.length).toBeGreaterThan(0);
    expect(types).not.toContain(worker.instanceType);
  });
});

describe('handleInstanceEvent: rebalance recommendation', () => {
  it('ignore: changes nothing', async () => {
    const spec = fleets({ rebalance: 'ignore' });
    const worker = await oneWorker(spec);

    const result = await handleInstanceEvent(world.interruptionDeps(spec), rebalance(worker.instanceId));

    expect(result.status).toBe('ignored');
    expect((await world.notifications()).filter((n) => n.kind !== 'launch')).toHaveLength(0);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
  });

  it('notify: notifies once, and neither marks nor replaces the worker', async () => {
    const spec = fleets({ rebalance: 'notify' });
    const worker = await oneWorker(spec);
    const deps = world.interruptionDeps(spec);

    const first = await handleInstanceEvent(deps, rebalance(worker.instanceId));
    const again = await handleInstanceEvent(deps, rebalance(worker.instanceId));

    expect([first.status, again.status]).toEqual(['notified', 'duplicate']);
    expect((await world.notifications()).map((n) => n.kind)).toEqual(['launch', 'rebalance-recommendation']);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
    expect(emulator().sent('CreateTags')).toHaveLength(0);
  });

  it('notify: an event put that fails once is put by the retry, and the message is published once', async () => {
    const spec = fleets({ rebalance: 'notify' });
    const worker = await oneWorker(spec);
    const deps = world.interruptionDeps(spec);
    emulator().faults.push({
      action: 'PutEvents',
      when: (_params, { body }) => body.includes('"DetailType":"Fleet Rebalance Recommendation"'),
      code: 'InternalError',
      status: 500,
      times: 1,
    });
    await expect(handleInstanceEvent(deps, rebalance(worker.instanceId))).rejects.toThrow();

    const retry = await handleInstanceEvent(deps, rebalance(worker.instanceId));

    expect(retry.status).toBe('notified');
    expect((await world.notifications()).map((n) => n.kind)).toEqual(['launch', 'rebalance-recommendation']);
    const events = (await world.notificationEvents()).map((event) => event.detailType);
    expect(events.filter((type) => type === 'Fleet Rebalance Recommendation')).toHaveLength(1);
    expect(world.metrics.sum('NotificationEventsFailed', { fleet: 'batch' })).toBe(1);
  });

  it('replace-early: replaces now, marks the worker draining without terminating it, and a later warning launches nothing', async () => {
    const spec = fleets({ rebalance: 'replace-early' });
    const worker = await oneWorker(spec);
    const deps = world.interruptionDeps(spec);

    const early = await handleInstanceEvent(deps, rebalance(worker.instanceId));
    const later = await handleInstanceEvent(deps, warning(worker.instanceId));

    expect(early).toMatchObject({ status: 'replaced', replacement: { status: 'launched' } });
    expect(later.replacement?.status).toBe('already-replaced');
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    const [old] = await world.instances({ tag: TAG.triggerId, value: 'setup' });
    expect(old?.State?.Name).toBe('running');
    expect(old?.Tags).toContainEqual({ Key: TAG.interruption, Value: 'terminate' });
    expect(emulator().sent('TerminateInstances')).toHaveLength(0);
    const kinds = (await world.notifications()).map((n) => n.kind);
    expect(kinds.filter((kind) => kind === 'replacement')).toHaveLength(1);
  });

  it('replace-early: a delivery that failed to mark the worker is finished by its retry, notified once', async () => {
    const spec = fleets({ rebalance: 'replace-early' });
    const worker = await oneWorker(spec);
    const deps = world.interruptionDeps(spec);
    emulator().faults.push({ action: 'CreateTags', code: 'InternalError', status: 500 });
    await expect(handleInstanceEvent(deps, rebalance(worker.instanceId))).rejects.toThrow();
    emulator().faults.length = 0;

    const retry = await handleInstanceEvent(deps, rebalance(worker.instanceId));

    expect(retry).toMatchObject({ status: 'replaced', replacement: { status: 'already-replaced' } });
    const [old] = await world.instances({ tag: TAG.triggerId, value: 'setup' });
    expect(old?.Tags).toContainEqual({ Key: TAG.interruption, Value: 'rebalance' });
    const kinds = (await world.notifications()).map((n) => n.kind);
    expect(kinds.filter((kind) => kind === 'rebalance-recommendation')).toHaveLength(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    expect(await handleInstanceEvent(deps, rebalance(worker.instanceId))).toMatchObject({
      status: 'duplicate',
    });
  });
});

describe('handleInstanceEvent: an orphan (its fleet no longer configured)', () => {
  it('ignores its rebalance recommendation, and only logs its termination: nothing replaces it', async () => {
    const worker = await oneWorker(fleets({ rebalance: 'replace-early' }));
    const withoutBatch = { nightly: fleets().batch };
    const deps = world.interruptionDeps(withoutBatch);

    const recommended = await handleInstanceEvent(deps, rebalance(worker.instanceId));
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [worker.instanceId] }));
    emulator().reclaimed.add(worker.instanceId);
    const ended = await handleInstanceEvent(deps, stateChange(worker.instanceId, 'terminated'));

    expect(recommended).toMatchObject({ status: 'ignored', reason: expect.stringContaining('orphan') });
    expect(ended).toMatchObject({ status: 'observed', reason: expect.stringContaining('orphan') });
    expect((await world.notifications()).map((n) => n.kind)).toEqual(['launch']);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
    expect((await world.stateKeys()).filter((key) => key.includes('replacement#'))).toEqual([]);
  });
});

describe('handleInstanceEvent: state change', () => {
  it('restores capacity once when a spot worker ends without a handled warning', async () => {
    const worker = await oneWorker();
    const deps = world.interruptionDeps(fleets());
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [worker.instanceId] }));
    emulator().reclaimed.add(worker.instanceId);

    const first = await handleInstanceEvent(deps, stateChange(worker.instanceId, 'shutting-down'));
    const second = await handleInstanceEvent(deps, stateChange(worker.instanceId, 'terminated'));

    expect([first.status, second.status]).toEqual(['replaced', 'duplicate']);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    const replacing = (await world.notifications()).filter((n) => n.kind === 'replacement');
    expect(replacing).toHaveLength(1);
    expect(replacing[0]?.body).toMatchObject({ cause: 'terminated without a warning' });
  });

  it('launches nothing more on termination after a handled warning', async () => {
    const worker = await oneWorker();
    const deps = world.interruptionDeps(fleets());
    await handleInstanceEvent(deps, warning(worker.instanceId));

    const ended = await handleInstanceEvent(deps, stateChange(worker.instanceId, 'terminated'));

    expect(ended.status).toBe('duplicate');
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
  });

  it('does not replace a spot worker the idle reaper retired: its idle mark says the termination was ours', async () => {
    const worker = await oneWorker();
    await world.ec2.send(
      new CreateTagsCommand({
        Resources: [worker.instanceId],
        Tags: [{ Key: TAG.idleSince, Value: new Date().toISOString() }],
      }),
    );
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [worker.instanceId] }));
    emulator().reclaimed.add(worker.instanceId);

    const result = await handleInstanceEvent(
      world.interruptionDeps(fleets()),
      stateChange(worker.instanceId, 'terminated'),
    );

    expect(result).toMatchObject({ status: 'observed', reason: 'retired by the idle reaper' });
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
  });

  it('does not replace an on-demand worker: only spot workers are interrupted', async () => {
    const onDemand = fleets({ market: 'on-demand' });
    const worker = await oneWorker(onDemand);

    const result = await handleInstanceEvent(
      world.interruptionDeps(onDemand),
      stateChange(worker.instanceId, 'terminated'),
    );

    expect(result).toMatchObject({ status: 'observed', reason: 'on-demand workers are never interrupted' });
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
  });
});

describe('handleInstanceEvent: bad input', () => {
  it('rejects a malformed event with a clear error before any AWS call', () => {
    emulator().requests.length = 0;

    expect(() =>
      parseInstanceEvent({
        'detail-type': 'EC2 Spot Instance Interruption Warning',
        source: 'aws.ec2',
        id: 'x',
        time: 'yesterday',
        detail: { 'instance-id': 'web-1' },
      }),
    ).toThrow(InvalidEventError);
    expect(emulator().requests).toHaveLength(0);
  });
});
