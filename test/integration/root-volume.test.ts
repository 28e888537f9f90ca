import { DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { TAG } from '../../src/model/tags';
import { fleetOf } from './fleet-documents';
import { createFleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();

describe('a fleet with a root volume', () => {
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
});
