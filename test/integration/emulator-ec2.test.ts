/**
 * What the test proxy adds to moto's EC2 so that a test can fail on it (issue 25): ClientToken idempotency as the EC2
 * API reference documents it, DescribeInstances' eventual consistency as a fault (`listingLagMs`), and the scheduled
 * events DescribeInstanceStatus lists (`scheduledEvents`).
 */
import {
  CreateKeyPairCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { seedAccount } from '../../local/account';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();
let ec2: EC2Client;
let imageId: string;

beforeEach(async () => {
  ec2 = new EC2Client(clientConfig(emulator()));
  ({ imageId } = await seedAccount(ec2));
});

const LAG_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const launchRequest = (overrides: Partial<RunInstancesCommandInput> = {}): RunInstancesCommandInput => ({
  ImageId: imageId,
  InstanceType: 't3.micro',
  MinCount: 1,
  MaxCount: 1,
  TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'fleet', Value: 'batch' }] }],
  ...overrides,
});

async function launch(overrides: Partial<RunInstancesCommandInput> = {}) {
  return ec2.send(new RunInstancesCommand(launchRequest(overrides)));
}

const idsOf = (instances: readonly Instance[] | undefined) =>
  (instances ?? []).map((instance) => instance.InstanceId ?? '');

async function described(input: DescribeInstancesCommandInput = {}) {
  const answer = await ec2.send(new DescribeInstancesCommand(input));
  return (answer.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
}

describe('ClientToken idempotency', () => {
  it('answers a repeated token with the first launch, its instances as they are now, and launches nothing', async () => {
    const first = await launch({ ClientToken: 'token-1', MinCount: 2, MaxCount: 2 });
    const [gone, kept] = idsOf(first.Instances);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone ?? ''] }));

    const repeated = await launch({ ClientToken: 'token-1', MinCount: 2, MaxCount: 2 });

    expect(repeated.ReservationId).toBe(first.ReservationId);
    expect(idsOf(repeated.Instances)).toEqual([gone, kept]);
    expect(repeated.Instances?.map((instance) => instance.State?.Name)).toEqual(['terminated', 'running']);
    expect(idsOf(await described()).sort()).toEqual([gone, kept].sort());
  });

  it('refuses the same token with another parameter: IdempotentParameterMismatch, nothing launched', async () => {
    await launch({ ClientToken: 'token-1' });

    await expect(launch({ ClientToken: 'token-1', InstanceType: 't3.small' })).rejects.toMatchObject({
      name: 'IdempotentParameterMismatch',
      $metadata: { httpStatusCode: 400 },
    });
    expect(await described()).toHaveLength(1);
  });

  it('launches once for two concurrent requests with one token, and answers both with its instances', async () => {
    const [one, other] = await Promise.all([
      launch({ ClientToken: 'token-1' }),
      launch({ ClientToken: 'token-1' }),
    ]);

    expect(idsOf(other.Instances)).toEqual(idsOf(one.Instances));
    expect(await described()).toHaveLength(1);
    expect(emulator().sent('RunInstances')).toHaveLength(2);
  });

  it('launches for a token whose first request failed', async () => {
    await expect(launch({ ClientToken: 'token-1', KeyName: 'made-later' })).rejects.toMatchObject({
      name: 'InvalidKeyPair.NotFound',
    });
    await ec2.send(new CreateKeyPairCommand({ KeyName: 'made-later' }));

    const retried = await launch({ ClientToken: 'token-1', KeyName: 'made-later' });

    expect(idsOf(await described())).toEqual(idsOf(retried.Instances));
  });

  it('launches anew for different tokens and after a reset', async () => {
    await launch({ ClientToken: 'token-1' });
    await launch({ ClientToken: 'token-2' });
    expect(await described()).toHaveLength(2);

    await emulator().reset();
    ({ imageId } = await seedAccount(ec2));
    await launch({ ClientToken: 'token-1' });

    expect(await described()).toHaveLength(1);
  });
});

describe('listing lag (listingLagMs)', () => {
  it('leaves a fresh instance out of a filtered DescribeInstances until the lag has passed', async () => {
    emulator().listingLagMs = LAG_MS;
    const older = idsOf((await launch()).Instances);
    await sleep(LAG_MS + 100);
    const fresh = idsOf((await launch()).Instances);
    const byFleet = { Filters: [{ Name: 'tag:fleet', Values: ['batch'] }] };

    expect(idsOf(await described(byFleet))).toEqual(older);
    await sleep(LAG_MS + 100);
    expect(idsOf(await described(byFleet))).toEqual([...older, ...fresh]);
  });

  it('answers InvalidInstanceID.NotFound for a fresh instance asked by id, then describes it after the lag', async () => {
    emulator().listingLagMs = LAG_MS;
    const fresh = idsOf((await launch()).Instances);

    await expect(described({ InstanceIds: fresh })).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
    });
    await sleep(LAG_MS + 100);
    expect(idsOf(await described({ InstanceIds: fresh }))).toEqual(fresh);
  });

  it('lists only the listed instances of a request by id that names fresh ones too', async () => {
    emulator().listingLagMs = LAG_MS;
    const older = idsOf((await launch()).Instances);
    await sleep(LAG_MS + 100);
    const fresh = idsOf((await launch()).Instances);

    expect(idsOf(await described({ InstanceIds: [...older, ...fresh] }))).toEqual(older);
  });

  it('lists every instance at once by default, as moto does', async () => {
    const fresh = idsOf((await launch({ MinCount: 2, MaxCount: 2 })).Instances);

    expect(idsOf(await described({ InstanceIds: fresh }))).toEqual(fresh);
    expect(idsOf(await described({ Filters: [{ Name: 'tag:fleet', Values: ['batch'] }] }))).toEqual(fresh);
  });
});

describe('scheduled events (scheduledEvents)', () => {
  it('lists the events a test names in DescribeInstanceStatus, as EC2 renders them, and none for the other instances', async () => {
    const [scheduled = '', plain = ''] = idsOf((await launch({ MinCount: 2, MaxCount: 2 })).Instances);
    const notBefore = new Date('2026-12-19T12:00:00Z');
    emulator().scheduledEvents.set(scheduled, [
      {
        instanceEventId: 'instance-event-0123456789abcdef0',
        code: 'instance-retirement',
        description: 'degraded',
        notBefore,
      },
    ]);

    const answer = await ec2.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [scheduled, plain], IncludeAllInstances: true }),
    );

    const events = new Map(
      (answer.InstanceStatuses ?? []).map((status) => [status.InstanceId, status.Events]),
    );
    expect(events.get(scheduled)).toEqual([
      {
        InstanceEventId: 'instance-event-0123456789abcdef0',
        Code: 'instance-retirement',
        Description: 'degraded',
        NotBefore: notBefore,
      },
    ]);
    expect(events.get(plain)).toBeUndefined();
  });

  it('forgets them at a reset: moto lists none', async () => {
    const [instance = ''] = idsOf((await launch()).Instances);
    emulator().scheduledEvents.set(instance, [
      {
        instanceEventId: 'instance-event-0123456789abcdef0',
        code: 'system-reboot',
        description: 'x',
        notBefore: new Date(),
      },
    ]);

    await emulator().reset();

    expect(emulator().scheduledEvents.size).toBe(0);
  });
});
