import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { seedAccount } from '../../local/account';
import { clientConfig, useEmulator } from './use-emulator';

const ROOT = join(__dirname, '..', '..');
const emulator = useEmulator({ largeFleets: true });

describe('the benchmarks emulator (moto with tag lookups by resource id, default AMIs only)', () => {
  it('finds the same tags as moto does for every tagged resource', () => {
    const output = execFileSync(
      join(ROOT, '.venv', 'bin', 'python'),
      [join(ROOT, 'local', 'moto_server_large_fleets.py'), '--check'],
      { encoding: 'utf8' },
    );

    expect(output).toContain('same tags for all');
  });

  it('answers DescribeInstances tag filters and tags as moto does', async () => {
    const ec2 = new EC2Client(clientConfig(emulator()));
    const { imageId } = await seedAccount(ec2);
    const tagged = (fleet: string) => ({
      ImageId: imageId,
      MinCount: 2,
      MaxCount: 2,
      TagSpecifications: [{ ResourceType: 'instance' as const, Tags: [{ Key: 'fleet', Value: fleet }] }],
    });
    await ec2.send(new RunInstancesCommand(tagged('batch')));
    await ec2.send(new RunInstancesCommand(tagged('other')));

    const found = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:fleet', Values: ['batch'] }] }),
    );

    const instances = (found.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    expect(instances.map((instance) => instance.Tags)).toEqual([
      [{ Key: 'fleet', Value: 'batch' }],
      [{ Key: 'fleet', Value: 'batch' }],
    ]);
  });
});
