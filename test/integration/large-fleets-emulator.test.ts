import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  DescribeInstancesCommand,
  EC2Client,
  GetSpotPlacementScoresCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { seedAccount } from '../../local/account';
import { Emulator } from '../../local/emulator';
import { clientConfig, useEmulator } from './use-emulator';

const ROOT = join(__dirname, '..', '..');
const emulator = useEmulator({ largeFleets: true });

/** The Connection header of the answer to one request. */
function connectionHeader(endpoint: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    request(`${endpoint}/moto-api/`, (response) => {
      response.resume();
      resolve(response.headers.connection);
    })
      .on('error', reject)
      .end();
  });
}

describe("the benchmarks' emulator (moto made fit for fleets of thousands)", () => {
  it('answers every checked request as moto does', () => {
    const output = execFileSync(
      join(ROOT, '.venv', 'bin', 'python'),
      [join(ROOT, 'local', 'moto_server_large_fleets.py'), '--check'],
      { encoding: 'utf8' },
    );

    expect(output).toMatch(/same answers to \d+ requests/);
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

  it('keeps connections alive, where moto_server closes each one', async () => {
    const plain = await Emulator.start();
    try {
      expect(await connectionHeader(plain.motoEndpoint)).toBe('close');
    } finally {
      await plain.stop();
    }

    expect(await connectionHeader(emulator().motoEndpoint)).not.toBe('close');
  });

  it('still reports a call that moto does not implement', async () => {
    const own = await Emulator.start({ largeFleets: true });
    try {
      const ec2 = new EC2Client(clientConfig(own));

      await expect(
        ec2.send(new GetSpotPlacementScoresCommand({ TargetCapacity: 1, InstanceTypes: ['c7g.large'] })),
      ).rejects.toThrow();
    } finally {
      await own.stop();
    }
    expect(() => own.assertNoUnimplementedCalls()).toThrow('unimplemented call');
  });
});
