import { DescribeVolumesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { InvalidEventError, UnknownFleetError } from '../../src/errors';
import { parseLaunchTrigger } from '../../src/events/launch';
import { FleetLaunchError, launchWorkers } from '../../src/fleet/launch-workers';
import { TAG } from '../../src/model/tags';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
let world: FleetWorld;

beforeEach(async () => {
  world = await createFleetWorld(emulator());
});

function batchFleet(overrides: Record<string, unknown> = {}) {
  return {
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large', 'm7g.large'],
      subnets: world.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
      market: 'spot',
      targetCapacity: 3,
      keyName: world.keyName,
      securityGroupIds: [world.securityGroupId],
      userData: '#!/bin/bash\necho hello from a worker\n',
      tags: { team: 'data' },
      ...overrides,
    },
  };
}

const schedule = (id: string) =>
  parseLaunchTrigger({ 'detail-type': 'Scheduled Event', source: 'aws.events', id }, 'inv');
const requested = (id: string, detail: Record<string, unknown>) =>
  parseLaunchTrigger(
    { 'detail-type': 'Launch Workers Requested', source: 'worker-fleet', id, detail },
    'inv',
  );
const spotRequest = (params: URLSearchParams) => params.get('InstanceMarketOptions.MarketType') === 'spot';

describe('launchWorkers', () => {
  it('brings a fleet to its target with spot workers that carry the instance profile, IMDSv2, key, group and tags', async () => {
    const deps = world.deps(batchFleet());

    const [result] = await launchWorkers(deps, schedule('schedule-1'));

    expect(result).toMatchObject({ fleet: 'batch', status: 'launched', active: 0, desired: 3, shortfall: 0 });
    const instances = await world.instances({ tag: TAG.fleet, value: 'batch' });
    expect(instances).toHaveLength(3);
    for (const instance of instances) {
      expect(instance.InstanceLifecycle).toBe('spot');
      expect(instance.KeyName).toBe(world.keyName);
      expect(instance.SecurityGroups?.map((group) => group.GroupId)).toEqual([world.securityGroupId]);
      expect(instance.MetadataOptions?.HttpTokens).toBe('required');
      expect(instance.Tags).toEqual(
        expect.arrayContaining([
          { Key: TAG.managedBy, Value: 'worker-fleet-test' },
          { Key: TAG.fleet, Value: 'batch' },
          { Key: TAG.launchReason, Value: 'schedule' },
          { Key: TAG.triggerId, Value: 'schedule-1' },
          { Key: 'team', Value: 'data' },
        ]),
      );
    }
    // Spread over both subnets: 2 in the first, 1 in the second.
    expect(instances.map((instance) => instance.SubnetId).sort()).toEqual(
      [world.subnets[0]?.subnetId, world.subnets[0]?.subnetId, world.subnets[1]?.subnetId].sort(),
    );
    // The emulator shows the profile on the first instance of each request only; every request asks for it.
    expect(
      instances.filter((instance) => instance.IamInstanceProfile?.Arn?.endsWith(`/${world.instanceProfile}`))
        .length,
    ).toBeGreaterThan(0);
    const requests = emulator().sent('RunInstances');
    expect(requests).toHaveLength(2);
    for (const { params } of requests) {
      expect(params.get('IamInstanceProfile.Name')).toBe(world.instanceProfile);
      expect(params.get('MetadataOptions.HttpTokens')).toBe('required');
      expect(params.get('MetadataOptions.HttpPutResponseHopLimit')).toBe('1');
      expect(params.get('InstanceMarketOptions.MarketType')).toBe('spot');
      expect(params.get('ClientToken')).toMatch(/^[0-9a-f]{64}$/);
      expect(Buffer.from(params.get('UserData') ?? '', 'base64').toString()).toContain('hello from a worker');
    }
    const volumes = await world.ec2.send(
      new DescribeVolumesCommand({ Filters: [{ Name: `tag:${TAG.fleet}`, Values: ['batch'] }] }),
    );
    expect(volumes.Volumes?.length).toBeGreaterThanOrEqual(3);
  });

  it("asks EC2 for spot at no more than the fleet's spotMaxPrice, and for no cap when the fleet sets none", async () => {
    await launchWorkers(
      world.deps(batchFleet({ targetCapacity: 1, spotMaxPrice: '0.0421' })),
      schedule('capped'),
    );
    await launchWorkers(world.deps(batchFleet({ targetCapacity: 2 })), schedule('uncapped'));

    const [capped, uncapped] = emulator().sent('RunInstances');
    expect(capped?.params.get('InstanceMarketOptions.SpotOptions.MaxPrice')).toBe('0.0421');
    expect(uncapped?.params.get('InstanceMarketOptions.MarketType')).toBe('spot');
    expect(uncapped?.params.has('InstanceMarketOptions.SpotOptions.MaxPrice')).toBe(false);
  });

  it('records each launched worker in the registry, for the interruption handler', async () => {
    const [result] = await launchWorkers(world.deps(batchFleet()), schedule('schedule-1'));

    const launched = result?.launched ?? [];
    expect(launched).toHaveLength(3);
    for (const worker of launched) {
      expect(await world.state.lookUpWorker(worker.instanceId)).toEqual({
        instanceId: worker.instanceId,
        fleet: 'batch',
        instanceType: worker.instanceType,
        availabilityZone: expect.stringMatching(/^us-east-1[a-f]$/),
        subnetId: worker.subnetId,
        market: 'spot',
        launchedAt: expect.any(String),
      });
    }
  });

  it('launches nothing on a second run that finds the fleet full', async () => {
    const deps = world.deps(batchFleet());
    await launchWorkers(deps, schedule('schedule-1'));

    const [second] = await launchWorkers(deps, schedule('schedule-2'));

    expect(second).toMatchObject({ status: 'at-capacity', active: 3, launched: [] });
    expect(emulator().sent('RunInstances')).toHaveLength(2);
    expect(await world.instances({ tag: TAG.fleet, value: 'batch' })).toHaveLength(3);
    expect(await world.notifications()).toHaveLength(1);
  });

  it('launches only the difference when workers are missing', async () => {
    const deps = world.deps(batchFleet({ targetCapacity: 2, subnets: [world.subnets[0]?.subnetId] }));
    await launchWorkers(deps, schedule('schedule-1'));

    const [result] = await launchWorkers(
      world.deps(batchFleet({ targetCapacity: 5 })),
      schedule('schedule-2'),
    );

    expect(result).toMatchObject({ status: 'launched', active: 2, desired: 5 });
    expect(result?.launched).toHaveLength(3);
    expect(await world.instances({ tag: TAG.fleet, value: 'batch' })).toHaveLength(5);
  });

  it('launches nothing more when the same event is delivered again', async () => {
    const deps = world.deps(batchFleet({ maxCapacity: 10 }));
    const event = requested('event-1', { fleet: 'batch', count: 2 });

    const [first] = await launchWorkers(deps, event);
    const [again] = await launchWorkers(deps, event);

    expect(first?.launched).toHaveLength(2);
    expect(again).toMatchObject({ status: 'already-handled', launched: [] });
    expect(await world.instances({ tag: TAG.triggerId, value: 'event-1' })).toHaveLength(2);
    expect(emulator().sent('RunInstances')).toHaveLength(2);
    const tokens = emulator()
      .sent('RunInstances')
      .map(({ params }) => params.get('ClientToken'));
    expect(new Set(tokens).size).toBe(2);
  });

  it('never grows a fleet beyond its maxCapacity, and says the request was capped', async () => {
    const deps = world.deps(batchFleet({ targetCapacity: 1, maxCapacity: 2 }));

    const [result] = await launchWorkers(deps, requested('event-1', { fleet: 'batch', count: 5 }));

    expect(result).toMatchObject({ status: 'launched', desired: 2, capped: true });
    expect(await world.instances({ tag: TAG.fleet, value: 'batch' })).toHaveLength(2);
  });

  it('moves to the next pool when a spot pool has no capacity', async () => {
    const deps = world.deps(batchFleet({ targetCapacity: 1 }));
    emulator().faults.push({
      action: 'RunInstances',
      when: (params) => params.get('InstanceType') === 'c7g.large',
      code: 'InsufficientInstanceCapacity',
    });

    const [result] = await launchWorkers(deps, schedule('schedule-1'));

    expect(result).toMatchObject({ status: 'launched', onDemandFallback: 0, shortfall: 0 });
    expect(result?.capacityErrors).toEqual([
      {
        instanceType: 'c7g.large',
        subnetId: world.subnets[0]?.subnetId,
        market: 'spot',
        code: 'InsufficientInstanceCapacity',
      },
    ]);
    const [instance] = await world.instances({ tag: TAG.fleet, value: 'batch' });
    expect(instance).toMatchObject({ InstanceType: 'm7g.large', InstanceLifecycle: 'spot' });
  });

  it('falls back to on-demand for what no spot pool can supply, and says so', async () => {
    const deps = world.deps(batchFleet({ market: 'spot-with-on-demand-fallback', targetCapacity: 2 }));
    emulator().faults.push({
      action: 'RunInstances',
      when: spotRequest,
      code: 'MaxSpotInstanceCountExceeded',
    });

    const [result] = await launchWorkers(deps, schedule('schedule-1'));

    expect(result).toMatchObject({ status: 'launched', onDemandFallback: 2, shortfall: 0 });
    expect(result?.capacityErrors).toHaveLength(8);
    const instances = await world.instances({ tag: TAG.fleet, value: 'batch' });
    expect(instances).toHaveLength(2);
    for (const instance of instances) expect(instance.InstanceLifecycle).toBeUndefined();
    const [notification] = await world.notifications();
    expect(notification).toMatchObject({ kind: 'launch', fleet: 'batch' });
    expect(notification?.body).toMatchObject({ onDemandFallback: 2, requested: 2 });
  });

  it('falls short on a spot-only fleet without capacity, launches nothing on-demand, and notifies the failure', async () => {
    const deps = world.deps(batchFleet({ targetCapacity: 2 }));
    emulator().faults.push({
      action: 'RunInstances',
      when: spotRequest,
      code: 'InsufficientInstanceCapacity',
    });

    const [result] = await launchWorkers(deps, schedule('schedule-1'));

    expect(result).toMatchObject({ status: 'short', shortfall: 2, launched: [] });
    expect(
      emulator()
        .sent('RunInstances')
        .filter(({ params }) => !spotRequest(params)),
    ).toHaveLength(0);
    const notifications = await world.notifications();
    expect(notifications.map((notification) => notification.kind)).toEqual(['launch-failed']);
  });

  it('publishes one notification per run that launched, with kind and fleet attributes', async () => {
    const deps = world.deps(batchFleet());

    const [result] = await launchWorkers(deps, schedule('schedule-1'));

    const notifications = await world.notifications();
    expect(notifications).toHaveLength(1);
    expect(notifications[0]).toMatchObject({ kind: 'launch', fleet: 'batch' });
    expect(notifications[0]?.subject).toBe('worker-fleet batch: launched 3 of 3 workers');
    expect(notifications[0]?.body.launched).toEqual(result?.launched);
  });

  it('counts only its own fleet: untagged instances and other fleets are not capacity', async () => {
    await world.ec2.send(new RunInstancesCommand({ ImageId: world.imageId, MinCount: 2, MaxCount: 2 }));
    const fleets = { ...batchFleet({ targetCapacity: 1 }), other: batchFleet({ targetCapacity: 2 }).batch };
    await launchWorkers(world.deps(fleets), requested('event-0', { fleet: 'other' }));

    const [result] = await launchWorkers(world.deps(fleets), requested('event-1', { fleet: 'batch' }));

    expect(result).toMatchObject({ active: 0, status: 'launched' });
    expect(await world.instances({ tag: TAG.fleet, value: 'batch' })).toHaveLength(1);
  });

  it('launches every fleet on a schedule that names none', async () => {
    const fleets = { ...batchFleet({ targetCapacity: 1 }), other: batchFleet({ targetCapacity: 2 }).batch };

    const results = await launchWorkers(world.deps(fleets), schedule('schedule-1'));

    expect(results.map((result) => [result.fleet, result.launched.length])).toEqual([
      ['batch', 1],
      ['other', 2],
    ]);
  });

  it('reads the AMI from an SSM parameter', async () => {
    await world.ssm.send(
      new PutParameterCommand({ Name: '/worker-fleet/test/ami', Value: world.imageId, Type: 'String' }),
    );
    const deps = world.deps(batchFleet({ ami: '/worker-fleet/test/ami', targetCapacity: 1 }));

    await launchWorkers(deps, schedule('schedule-1'));

    const [instance] = await world.instances({ tag: TAG.fleet, value: 'batch' });
    expect(instance?.ImageId).toBe(world.imageId);
  });

  it('rejects an unknown fleet, naming the known ones, before any AWS call', async () => {
    const deps = world.deps(batchFleet());
    emulator().requests.length = 0;

    const run = launchWorkers(deps, requested('event-1', { fleet: 'nope' }));

    await expect(run).rejects.toThrow(UnknownFleetError);
    await expect(run).rejects.toThrow('unknown fleet "nope"; this deployment manages: batch');
    expect(emulator().requests).toHaveLength(0);
  });

  it('rejects a malformed event and launches nothing', () => {
    expect(() => requested('event-1', { fleet: 'batch', count: -1 })).toThrow(InvalidEventError);
  });

  it('reports an error that is not about capacity, per fleet, after launching the other fleets', async () => {
    const fleets = { ...batchFleet({ targetCapacity: 1 }), other: batchFleet({ targetCapacity: 1 }).batch };
    emulator().faults.push({
      action: 'RunInstances',
      when: (params) => [...params.values()].includes('other'),
      code: 'UnauthorizedOperation',
      status: 403,
    });

    const run = launchWorkers(world.deps(fleets), schedule('schedule-1'));

    await expect(run).rejects.toThrow(FleetLaunchError);
    await expect(run).rejects.toThrow(/fleet other \(UnauthorizedOperation/);
    expect(await world.instances({ tag: TAG.fleet, value: 'batch' })).toHaveLength(1);
    expect(await world.instances({ tag: TAG.fleet, value: 'other' })).toHaveLength(0);
  });
});
