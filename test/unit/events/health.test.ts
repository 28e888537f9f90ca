import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidEventError } from '../../../src/errors';
import { parseHealthEvent, parseHealthTime } from '../../../src/events/health';
import { parseLauncherInvocation } from '../../../src/events/launch';

const sample = (name: string): Record<string, unknown> & { detail: Record<string, unknown> } =>
  JSON.parse(readFileSync(join(__dirname, '../../../events', name), 'utf8'));

describe('parseHealthEvent', () => {
  it("reads AWS's documented retirement: both instances (named by ARN), its region and its start days ahead", () => {
    expect(parseHealthEvent(sample('health-scheduled-change.json'))).toEqual({
      id: '7bf73129-1428-4cd3-a780-95db273d1602',
      eventArn: expect.stringContaining('AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED_90353408594353983'),
      code: 'AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED',
      region: 'us-east-1',
      startsAt: new Date('2026-12-19T12:00:00Z'),
      description: expect.stringContaining('We will stop your instances'),
      instances: [
        { instanceId: 'i-1234567890abcdef0', closed: false },
        { instanceId: 'i-0fedcba0987654321', closed: false },
      ],
    });
  });

  it("reads aws-node-termination-handler's test event: no eventRegion (the delivered region), a start years past, a weekday that does not match", () => {
    expect(parseHealthEvent(sample('health-scheduled-change-nth.json'))).toMatchObject({
      region: 'us-east-1',
      // "Sat, 05 Jun 2016" was a Sunday: the weekday is not checked.
      startsAt: new Date('2016-06-05T15:10:09Z'),
      instances: [{ instanceId: 'i-12345678', closed: false }],
    });
  });

  it('takes the affected region from detail.eventRegion, not the region it was delivered to (a backup event)', () => {
    const event = sample('health-scheduled-change.json');
    const backup = { ...event, region: 'us-west-2', detail: { ...event.detail, backupEvent: 'true' } };
    expect(parseHealthEvent(backup).region).toBe('us-east-1');
  });

  it('reads a closed event, and a resolved entity, as changes that are over', () => {
    const event = sample('health-scheduled-change.json');
    const entities = event.detail.affectedEntities as Record<string, unknown>[];
    const resolved = {
      ...event,
      detail: { ...event.detail, affectedEntities: [{ ...entities[0], status: 'RESOLVED' }, entities[1]] },
    };
    expect(parseHealthEvent(resolved).instances.map((instance) => instance.closed)).toEqual([true, false]);
    const closed = { ...event, detail: { ...event.detail, statusCode: 'closed' } };
    expect(parseHealthEvent(closed).instances.every((instance) => instance.closed)).toBe(true);
  });

  it('falls back to resources when there are no affected entities, and leaves out what is not an instance', () => {
    const event = sample('health-scheduled-change-nth.json');
    const { affectedEntities: _gone, ...detail } = event.detail;
    const hosts = { ...event, resources: ['h-0123456789abcdef0', 'i-0123456789abcdef0'], detail };
    expect(parseHealthEvent(hosts).instances).toEqual([{ instanceId: 'i-0123456789abcdef0', closed: false }]);
  });

  it('names no instance when the event names none', () => {
    const event = sample('health-scheduled-change-nth.json');
    const { affectedEntities: _gone, ...detail } = event.detail;
    const { resources: _none, ...nameless } = event;

    expect(parseHealthEvent({ ...nameless, detail }).instances).toEqual([]);
  });

  it('reads an instance ARN of any partition, and leaves out an entity whose id merely ends like an instance’s', () => {
    const event = sample('health-scheduled-change.json');
    const entities = [
      'arn:aws-us-gov:ec2:us-gov-west-1:123456789012:instance/i-0123456789abcdef0',
      'arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0fedcba9876543210',
      'eni-0123456789abcdef1',
    ].map((entityValue) => ({ entityValue }));
    const named = { ...event, detail: { ...event.detail, affectedEntities: entities } };

    expect(parseHealthEvent(named).instances.map((instance) => instance.instanceId)).toEqual([
      'i-0123456789abcdef0',
      'i-0fedcba9876543210',
    ]);
  });

  it('reads an open event as a change that is not over, and an event time with an offset', () => {
    const event = sample('health-scheduled-change.json');
    const open = {
      ...event,
      time: '2026-12-05T10:43:21+01:00',
      detail: { ...event.detail, statusCode: 'open' },
    };

    expect(parseHealthEvent(open).instances.every((instance) => !instance.closed)).toBe(true);
  });

  it('leaves out the description and the region when the event has none', () => {
    const event = sample('health-scheduled-change-nth.json');
    const { region: _region, ...undelivered } = event;
    const { eventDescription: _description, eventRegion: _eventRegion, ...detail } = event.detail;

    const bare = parseHealthEvent({ ...undelivered, detail });
    const empty = parseHealthEvent({ ...undelivered, detail: { ...detail, eventDescription: [] } });

    expect(bare).not.toHaveProperty('description');
    expect(bare).not.toHaveProperty('region');
    expect(empty).not.toHaveProperty('description');
  });

  it('says, refusing a date, what it is and what a Health date looks like', () => {
    const event = sample('health-scheduled-change.json');
    const bad = { ...event, detail: { ...event.detail, startTime: 'next Tuesday' } };

    expect(() => parseHealthEvent(bad)).toThrow(
      /^malformed "AWS Health Event" scheduled change: .*detail\.startTime.*RFC 1123, "Sat, 05 Dec 2026 12:00:00 GMT"/,
    );
  });

  it.each([
    ['another service', { service: 'RDS' }, 'detail.service'],
    ['an issue, not a scheduled change', { eventTypeCategory: 'issue' }, 'detail.eventTypeCategory'],
    ['a start that is no date', { startTime: 'next Tuesday' }, 'detail.startTime'],
    ['31 February', { startTime: 'Tue, 31 Feb 2026 12:00:00 GMT' }, 'detail.startTime'],
    ['no event ARN', { eventArn: undefined }, 'detail.eventArn'],
  ])('refuses %s, naming the field', (_what, change, field) => {
    const event = sample('health-scheduled-change.json');
    const bad = { ...event, detail: { ...event.detail, ...change } };
    expect(() => parseHealthEvent(bad)).toThrow(InvalidEventError);
    expect(() => parseHealthEvent(bad)).toThrow(field);
  });
});

describe('parseHealthTime', () => {
  it.each([
    ['Sat, 05 Dec 2026 12:00:00 GMT', '2026-12-05T12:00:00.000Z'],
    ['Fri, 3 Jun 2022 05:01:10 GMT', '2022-06-03T05:01:10.000Z'],
    ['05 Dec 2026 12:00:00 +0100', '2026-12-05T11:00:00.000Z'],
    ['05 Dec 2026 07:00:00 -0500', '2026-12-05T12:00:00.000Z'],
    ['05 Dec 2026 17:30:00 +0530', '2026-12-05T12:00:00.000Z'],
    ['05 Dec 2026 12:00:00 UTC', '2026-12-05T12:00:00.000Z'],
    ['Sat,  5 Dec 2026 12:00:00 GMT', '2026-12-05T12:00:00.000Z'],
    [' Sat, 05 Dec 2026 12:00:00 GMT\n', '2026-12-05T12:00:00.000Z'],
    ['2026-12-05T12:00:00Z', '2026-12-05T12:00:00.000Z'],
    ['2026-12-05T13:00:00+01:00', '2026-12-05T12:00:00.000Z'],
  ])('reads %j', (text, iso) => {
    expect(parseHealthTime(text)?.toISOString()).toBe(iso);
  });

  it.each([
    ['Jan', 0],
    ['Feb', 1],
    ['Mar', 2],
    ['Apr', 3],
    ['May', 4],
    ['Jun', 5],
    ['Jul', 6],
    ['Aug', 7],
    ['Sep', 8],
    ['Oct', 9],
    ['Nov', 10],
    ['Dec', 11],
  ])('reads %s as month %i of the year', (month, index) => {
    expect(parseHealthTime(`Fri, 1 ${month} 2027 00:00:00 GMT`)).toEqual(new Date(Date.UTC(2027, index, 1)));
  });

  it.each([
    '',
    'Sat, 05 Dek 2026 12:00:00 GMT',
    'Sat, 05 Dec 2026 25:00:00 GMT',
    'Saturday, 05 Dec 2026 12:00:00 GMT',
    'Sat, 05 Dec 2026 12:00:00 GMT+0100',
    '1733400000',
  ])('refuses %j', (text) => {
    expect(parseHealthTime(text)).toBeUndefined();
  });

  // Date.UTC would roll a minute or a second past 59 into the next (12:60 as 13:00): a date that is none is refused.
  it.each([
    'Sat, 05 Dec 2026 12:60:00 GMT',
    'Sat, 05 Dec 2026 12:00:60 GMT',
    'Sat, 05 Dec 2026 12:00:75 GMT',
  ])('refuses %j', (text) => {
    expect(parseHealthTime(text)).toBeUndefined();
  });
});

describe('parseLauncherInvocation', () => {
  it('gives a Health event to the scheduled-change path, and anything else to the launch trigger parser', () => {
    expect(parseLauncherInvocation(sample('health-scheduled-change.json'), 'inv')).toMatchObject({
      kind: 'scheduled-change',
      change: { code: 'AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED' },
    });
    expect(parseLauncherInvocation(sample('launch-direct.json'), 'inv')).toMatchObject({
      kind: 'launch',
      trigger: { kind: 'direct', fleet: 'batch' },
    });
    expect(() => parseLauncherInvocation({ 'detail-type': 'AWS Health Abuse Event' }, 'inv')).toThrow(
      InvalidEventError,
    );
  });
});
