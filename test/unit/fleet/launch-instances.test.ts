import { clientToken } from '../../../src/fleet/client-token';
import { type LaunchOrder, runInstancesInput } from '../../../src/fleet/launch-instances';
import { TAG } from '../../../src/model/tags';
import { configWith, envWith, fleetJson } from '../fixtures';

function orderFor(overrides: Record<string, unknown> = {}): LaunchOrder {
  const config = configWith(envWith(), { batch: fleetJson(overrides) });
  const spec = config.fleets.batch;
  if (spec === undefined) throw new Error('fixture has no batch fleet');
  return { fleet: 'batch', spec, count: 2, reason: 'schedule', triggerId: 'event-1' };
}

const config = configWith();
const pool = { instanceType: 'c7g.large', subnetId: 'subnet-0123456789abcdef0', market: 'spot' as const };
const request = { imageId: 'ami-0123456789abcdef0', pool, count: 2, clientToken: 'token' };

describe('runInstancesInput', () => {
  it('asks for exactly the count, IMDSv2, the instance profile and ownership tags on instance and volume', () => {
    const input = runInstancesInput(config, orderFor(), request);

    expect(input).toMatchObject({
      MinCount: 2,
      MaxCount: 2,
      IamInstanceProfile: { Name: config.instanceProfile },
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
      InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time' } },
      ClientToken: 'token',
    });
    expect(input.TagSpecifications?.map((spec) => spec.ResourceType)).toEqual(['instance', 'volume']);
    expect(input.TagSpecifications?.[0]?.Tags).toEqual(
      expect.arrayContaining([
        { Key: TAG.managedBy, Value: 'worker-fleet-dev' },
        { Key: TAG.fleet, Value: 'batch' },
        { Key: TAG.launchReason, Value: 'schedule' },
        { Key: TAG.triggerId, Value: 'event-1' },
        { Key: 'Name', Value: 'worker-fleet-dev-batch' },
      ]),
    );
  });

  it('replaces the AMI’s root volume with the fleet’s size, type and encryption, deleted with the worker', () => {
    const withRoot = orderFor({ rootVolume: { sizeGiB: 200, type: 'io2', iops: 4000, encrypted: true } });

    expect(
      runInstancesInput(config, withRoot, { ...request, rootDeviceName: '/dev/xvda' }).BlockDeviceMappings,
    ).toEqual([
      {
        DeviceName: '/dev/xvda',
        Ebs: { VolumeSize: 200, VolumeType: 'io2', Iops: 4000, Encrypted: true, DeleteOnTermination: true },
      },
    ]);
    expect(runInstancesInput(config, orderFor(), request).BlockDeviceMappings).toBeUndefined();
  });

  it('adds the stage’s SSH security group to a fleet that asks for SSH, and refuses one in a stage without it', () => {
    const withSsh = configWith(envWith({ WORKER_FLEET_SSH_SECURITY_GROUP: 'sg-0fedcba9876543210' }));
    const order = orderFor({ ssh: true, keyName: 'ops', securityGroupIds: ['sg-0123456789abcdef0'] });

    expect(runInstancesInput(withSsh, order, request)).toMatchObject({
      KeyName: 'ops',
      SecurityGroupIds: ['sg-0123456789abcdef0', 'sg-0fedcba9876543210'],
    });
    expect(runInstancesInput(withSsh, orderFor(), request).SecurityGroupIds).toBeUndefined();
    expect(() => runInstancesInput(config, order, request)).toThrow(
      'fleet batch asks for ssh, but stage dev has no SSH security group (params sshIngressCidr and sshVpcId)',
    );
  });

  it('gives a fleet that asks for SSH without a keyName the stack’s key pair, and refuses it in a stage without one', () => {
    const withSsh = configWith(
      envWith({
        WORKER_FLEET_SSH_SECURITY_GROUP: 'sg-0fedcba9876543210',
        WORKER_FLEET_SSH_KEY_PAIR: 'worker-fleet-dev',
      }),
    );
    const groupOnly = configWith(envWith({ WORKER_FLEET_SSH_SECURITY_GROUP: 'sg-0fedcba9876543210' }));

    expect(runInstancesInput(withSsh, orderFor({ ssh: true }), request).KeyName).toBe('worker-fleet-dev');
    expect(runInstancesInput(withSsh, orderFor({ ssh: true, keyName: 'ops' }), request).KeyName).toBe('ops');
    expect(runInstancesInput(withSsh, orderFor(), request).KeyName).toBeUndefined();
    expect(() => runInstancesInput(groupOnly, orderFor({ ssh: true }), request)).toThrow(
      'fleet batch asks for ssh, but names no keyName and stage dev creates no key pair (param sshCreateKeyPair)',
    );
  });

  it('sends no market options for on-demand and the max price for spot', () => {
    expect(
      runInstancesInput(config, orderFor(), { ...request, pool: { ...pool, market: 'on-demand' } }),
    ).toHaveProperty('InstanceMarketOptions', undefined);
    expect(
      runInstancesInput(config, orderFor({ spotMaxPrice: '0.05' }), request).InstanceMarketOptions
        ?.SpotOptions?.MaxPrice,
    ).toBe('0.05');
  });

  it('lets the fleet name the worker but never overwrite the ownership tags', () => {
    const tags = runInstancesInput(config, orderFor({ tags: { Name: 'my-worker' } }), request)
      .TagSpecifications?.[0]?.Tags;

    expect(tags).toContainEqual({ Key: 'Name', Value: 'my-worker' });
    expect(tags?.filter((tag) => tag.Key === TAG.managedBy)).toEqual([
      { Key: TAG.managedBy, Value: 'worker-fleet-dev' },
    ]);
  });

  it('sends the fleet user data as it is when the agent is off, and no key, groups or user data when none', () => {
    const withUserData = runInstancesInput(
      config,
      orderFor({ userData: '#!/bin/sh\necho hi\n', agent: { enabled: false } }),
      request,
    );
    const bare = runInstancesInput(config, orderFor({ agent: { enabled: false } }), request);

    expect(Buffer.from(withUserData.UserData ?? '', 'base64').toString()).toBe('#!/bin/sh\necho hi\n');
    expect(bare).toMatchObject({ UserData: undefined, KeyName: undefined, SecurityGroupIds: undefined });
  });

  it('delivers the worker agent before the fleet user data', () => {
    const input = runInstancesInput(config, orderFor({ userData: '#!/bin/sh\necho hi\n' }), request);
    const userData = Buffer.from(input.UserData ?? '', 'base64').toString();

    expect(userData.indexOf('worker-fleet-agent')).toBeLessThan(userData.indexOf('echo hi'));
    // The agent's settings travel base64-encoded in the installer's here-document.
    const encoded = /<<'WF_ENV'\n([A-Za-z0-9+/=\n]+?)\nWF_ENV\n/.exec(userData)?.[1] ?? '';
    const settings = Buffer.from(encoded.replaceAll('\n', ''), 'base64').toString();
    expect(settings).toContain("WF_BUCKET='worker-fleet-dev-fleet'\n");
    expect(settings).toContain(`WF_ROLE_ID='${config.workerRoleId}'\n`);
  });
});

describe('clientToken', () => {
  it("is the same for the same parts, different otherwise, and within EC2's 64 characters", () => {
    const token = clientToken(['worker-fleet-dev', 'batch', 'event-1', 0]);

    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(clientToken(['worker-fleet-dev', 'batch', 'event-1', 0])).toBe(token);
    expect(clientToken(['worker-fleet-dev', 'batch', 'event-1', 1])).not.toBe(token);
    expect(clientToken(['worker-fleet-dev', 'batch', 'event-10'])).not.toBe(
      clientToken(['worker-fleet-dev', 'batch', 'event-1', 0]),
    );
  });
});
