import { CreateKeyPairCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { TAG } from '../../src/model/tags';
import { fleetOf } from './fleet-documents';
import { createFleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();

describe('worker settings', () => {
  it('launches workers whose root device is the fleet’s volume: its size, type and encryption', async () => {
    const world = await createFleetWorld(emulator());
    const fleets = { batch: fleetOf(world, { rootVolume: { sizeGiB: 200, type: 'gp3', encrypted: true } }) };

    const [result] = await launchWorkers(world.deps(fleets), {
      kind: 'direct',
      id: 'root-1',
      fleet: 'batch',
    });

    const instanceId = result?.launched[0]?.instanceId ?? '';
    const [instance] = await world.instances({ tag: TAG.triggerId, value: 'root-1' });
    const rootDevice = instance?.BlockDeviceMappings?.find(
      (mapping) => mapping.DeviceName === instance.RootDeviceName,
    );
    const volumes = await world.ec2.send(
      new DescribeVolumesCommand({ VolumeIds: [rootDevice?.Ebs?.VolumeId ?? 'vol-none'] }),
    );
    expect(instance?.InstanceId).toBe(instanceId);
    expect(volumes.Volumes?.[0]).toMatchObject({ Size: 200, VolumeType: 'gp3', Encrypted: true });
  });

  it('launches the workers of a fleet with ssh: true into the stage’s SSH group, with its key pair', async () => {
    const world = await createFleetWorld(emulator());
    const fleets = { batch: fleetOf(world, { ssh: true, keyName: world.keyName }) };
    const deps = {
      ...world.deps(fleets),
      config: world.config(fleets, { WORKER_FLEET_SSH_SECURITY_GROUP: world.securityGroupId }),
    };

    await launchWorkers(deps, { kind: 'direct', id: 'ssh-1', fleet: 'batch' });

    const [instance] = await world.instances({ tag: TAG.triggerId, value: 'ssh-1' });
    expect(instance?.KeyName).toBe(world.keyName);
    expect(instance?.SecurityGroups?.map((group) => group.GroupId)).toEqual([world.securityGroupId]);
  });

  it('launches the workers of a fleet with ssh: true and no keyName with the key pair the stage’s stack created', async () => {
    const world = await createFleetWorld(emulator());
    // moto's CloudFormation cannot create an AWS::EC2::KeyPair (docs/emulator.md): the key pair is made as the stack
    // would make it, and the functions learn its name as the stack tells them (WORKER_FLEET_SSH_KEY_PAIR).
    const stackKeyPair = `worker-fleet-${world.config({ batch: fleetOf(world) }).stage}`;
    await world.ec2.send(new CreateKeyPairCommand({ KeyName: stackKeyPair, KeyType: 'ed25519' }));
    const fleets = { batch: fleetOf(world, { ssh: true }) };
    const deps = {
      ...world.deps(fleets),
      config: world.config(fleets, {
        WORKER_FLEET_SSH_SECURITY_GROUP: world.securityGroupId,
        WORKER_FLEET_SSH_KEY_PAIR: stackKeyPair,
      }),
    };

    await launchWorkers(deps, { kind: 'direct', id: 'ssh-stack-key-1', fleet: 'batch' });

    const [instance] = await world.instances({ tag: TAG.triggerId, value: 'ssh-stack-key-1' });
    expect(instance?.KeyName).toBe(stackKeyPair);
    expect(instance?.SecurityGroups?.map((group) => group.GroupId)).toEqual([world.securityGroupId]);
  });

  it('refuses to launch a fleet with ssh: true and no keyName in a stage whose stack created no key pair', async () => {
    const world = await createFleetWorld(emulator());
    const fleets = { batch: fleetOf(world, { ssh: true }) };
    const deps = {
      ...world.deps(fleets),
      config: world.config(fleets, { WORKER_FLEET_SSH_SECURITY_GROUP: world.securityGroupId }),
    };

    await expect(launchWorkers(deps, { kind: 'direct', id: 'ssh-no-key-1', fleet: 'batch' })).rejects.toThrow(
      'names no keyName and stage',
    );
    expect(await world.instances({ tag: TAG.triggerId, value: 'ssh-no-key-1' })).toEqual([]);
  });
});
