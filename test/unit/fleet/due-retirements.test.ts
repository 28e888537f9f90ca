import { dueRetirements, isDrifted } from '../../../src/fleet/due-retirements';
import type { FleetImage, ScheduledChange } from '../../../src/model/fleet-state';
import { TAG } from '../../../src/model/tags';
import type { Worker } from '../../../src/model/worker';

const AMI = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64';
const IMAGE: FleetImage = { ami: AMI, imageId: 'ami-0new0new0new0new0', at: '2026-12-05T10:00:00Z' };

const worker = (instanceId: string, overrides: Partial<Worker> = {}): Worker => ({
  instanceId,
  instanceType: 'c7g.large',
  subnetId: 'subnet-1',
  availabilityZone: 'us-east-1a',
  state: 'running',
  market: 'spot',
  launchTime: new Date('2026-12-01T00:00:00Z'),
  tags: {},
  imageId: IMAGE.imageId,
  ...overrides,
});

const change = (instanceId: string, overrides: Partial<ScheduledChange> = {}): ScheduledChange => ({
  instanceId,
  source: 'health',
  eventId: 'arn:aws:health:us-east-1::event/EC2/RETIREMENT/1',
  code: 'AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED',
  startsAt: '2026-12-19T12:00:00.000Z',
  at: '2026-12-05T10:00:00Z',
  ...overrides,
});

describe('dueRetirements', () => {
  it('names each worker a scheduled change names, with the time the change may begin', () => {
    const due = dueRetirements('batch', AMI, [worker('i-a'), worker('i-b'), worker('i-c')], {
      scheduledChanges: [change('i-a'), change('i-b')],
      image: IMAGE,
    });
    expect(due).toEqual([
      {
        fleet: 'batch',
        instanceId: 'i-a',
        reason: 'scheduled-change',
        notAfter: new Date('2026-12-19T12:00:00Z'),
        correlationId: 'arn:aws:health:us-east-1::event/EC2/RETIREMENT/1',
        detail: expect.objectContaining({ code: 'AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED' }),
      },
      expect.objectContaining({ instanceId: 'i-b', reason: 'scheduled-change' }),
    ]);
  });

  it('retires a worker once, by its earliest change, whether a Health event or the backstop told it', () => {
    const due = dueRetirements('batch', AMI, [worker('i-a')], {
      scheduledChanges: [
        change('i-a'),
        change('i-a', {
          source: 'instance-status',
          eventId: 'instance-event-0123456789abcdef0',
          code: 'instance-retirement',
          startsAt: '2026-12-18T00:00:00.000Z',
        }),
      ],
    });
    expect(due).toHaveLength(1);
    expect(due[0]).toMatchObject({
      notAfter: new Date('2026-12-18T00:00:00Z'),
      detail: { source: 'instance-status' },
    });
  });

  it('orders scheduled changes soonest first, then drifted workers oldest first', () => {
    const due = dueRetirements(
      'batch',
      AMI,
      [
        worker('i-young-drifted', { imageId: 'ami-0old', launchTime: new Date('2026-12-04T00:00:00Z') }),
        worker('i-late', {}),
        worker('i-old-drifted', { imageId: 'ami-0old', launchTime: new Date('2026-12-02T00:00:00Z') }),
        worker('i-soon', {}),
      ],
      {
        scheduledChanges: [change('i-late'), change('i-soon', { startsAt: '2026-12-10T00:00:00.000Z' })],
        image: IMAGE,
      },
    );
    expect(due.map((retirement) => [retirement.instanceId, retirement.reason])).toEqual([
      ['i-soon', 'scheduled-change'],
      ['i-late', 'scheduled-change'],
      ['i-old-drifted', 'ami-drift'],
      ['i-young-drifted', 'ami-drift'],
    ]);
    expect(due[2]?.detail).toEqual({ imageId: 'ami-0old', fleetImage: IMAGE.imageId });
  });

  it('names a worker still pending as well as a running one', () => {
    const due = dueRetirements('batch', AMI, [worker('i-pending', { state: 'pending' })], {
      scheduledChanges: [change('i-pending')],
    });
    expect(due.map((retirement) => retirement.instanceId)).toEqual(['i-pending']);
  });

  it('orders drifted workers oldest first whatever order they are listed in, then by instance id, an unknown launch time first', () => {
    const drifted = (instanceId: string, launchTime?: string) =>
      worker(instanceId, {
        imageId: 'ami-0old',
        launchTime: launchTime === undefined ? undefined : new Date(launchTime),
      });
    const listed = [
      drifted('i-young', '2026-12-04T00:00:00Z'),
      drifted('i-old-b', '2026-12-02T00:00:00Z'),
      drifted('i-old-a', '2026-12-02T00:00:00Z'),
      drifted('i-unknown'),
    ];
    const order = (workers: readonly Worker[]) =>
      dueRetirements('batch', AMI, workers, { image: IMAGE }).map((retirement) => retirement.instanceId);

    const expected = ['i-unknown', 'i-old-a', 'i-old-b', 'i-young'];
    expect(order(listed)).toEqual(expected);
    expect(order([...listed].reverse())).toEqual(expected);
    expect(order([listed[3] as Worker, listed[0] as Worker])).toEqual(['i-unknown', 'i-young']);
  });

  it('names nothing for a change that was closed later, or a worker that is stopping, interrupted or not listed', () => {
    const due = dueRetirements(
      'batch',
      AMI,
      [
        worker('i-closed'),
        worker('i-stopping', { state: 'stopping' }),
        worker('i-warned', { tags: { [TAG.interruptedAt]: '2026-12-05T10:00:00Z' } }),
      ],
      {
        scheduledChanges: [
          change('i-closed'),
          change('i-closed', { closed: true }),
          change('i-stopping'),
          change('i-warned'),
          change('i-gone'),
        ],
      },
    );
    expect(due).toEqual([]);
  });

  it('names nothing when nothing is scheduled and every worker runs the fleet image', () => {
    expect(dueRetirements('batch', AMI, [worker('i-a')], { scheduledChanges: [], image: IMAGE })).toEqual([]);
    expect(dueRetirements('batch', AMI, [], {})).toEqual([]);
  });
});

describe('isDrifted', () => {
  it('is a worker on another image than the one the fleet last resolved', () => {
    expect(isDrifted({ imageId: 'ami-0old' }, IMAGE, AMI)).toBe(true);
    expect(isDrifted({ imageId: IMAGE.imageId }, IMAGE, AMI)).toBe(false);
  });

  it('is never judged on a guess: no image recorded, the fleet ami changed since, or the worker image unknown', () => {
    expect(isDrifted({ imageId: 'ami-0old' }, undefined, AMI)).toBe(false);
    expect(isDrifted({ imageId: 'ami-0old' }, IMAGE, 'ami-0123456789abcdef0')).toBe(false);
    expect(isDrifted({}, IMAGE, AMI)).toBe(false);
  });
});
