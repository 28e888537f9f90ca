import { factsOf } from '../../../src/aws/fleet-state-table';
import { SCHEMA_VERSION } from '../../../src/model/fleet-state';

const now = new Date('2026-12-05T10:00:00Z');
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const item = (sk: string, fields: Record<string, unknown>) => ({
  pk: 'fleet#batch',
  sk,
  v: SCHEMA_VERSION,
  ...fields,
});
const request = (id: string, at: string, extra: Record<string, unknown> = {}) =>
  item(`request#${id}`, { id, kind: 'event', target: 2, at, ...extra });

describe("factsOf: a fleet's items as the facts a pass reads", () => {
  it('reads the size, the requests not applied yet (oldest first), the replacements and the intents', () => {
    const facts = factsOf(
      [
        item('size', { desired: 3, desiredBy: { id: 'r-0', kind: 'schedule' } }),
        request('r-2', '2026-12-05T09:59:02Z'),
        request('r-1', '2026-12-05T09:59:01Z'),
        request('r-0', '2026-12-05T09:58:00Z', { applied: true }),
        item('replacement#i-1', {
          instanceId: 'i-1',
          cause: 'spot-interruption',
          correlationId: 'w-1',
          pool: { instanceType: 'c7g.large', subnetId: 'subnet-a' },
          at: '2026-12-05T09:59:00Z',
          status: 'pending',
        }),
        item('intent#grow-7-0', {
          slot: 'grow-7-0',
          count: 2,
          avoid: [],
          status: 'open',
          at: '2026-12-05T09:59:00Z',
        }),
        item('lease#reconcile', { holder: 'h', until: 1, epoch: 4 }),
      ],
      now,
    );

    expect(facts.size).toEqual({ desired: 3, desiredBy: { id: 'r-0', kind: 'schedule' } });
    expect(facts.requests.map((found) => found.id)).toEqual(['r-1', 'r-2']);
    expect(Object.keys(facts.replacements)).toEqual(['i-1']);
    expect(facts.intents.map((intent) => intent.slot)).toEqual(['grow-7-0']);
    expect(facts.unreadable).toEqual([]);
  });

  it('reads an item past its expiry as absent, as DynamoDB may not have swept it yet', () => {
    const facts = factsOf(
      [
        request('r-old', '2026-11-01T00:00:00Z', { expiresAt: seconds(now) - 1 }),
        request('r-new', '2026-12-05T09:59:00Z', { expiresAt: seconds(now) + 60 }),
      ],
      now,
    );

    expect(facts.requests.map((found) => found.id)).toEqual(['r-new']);
  });

  it('names every item that does not parse, of a known kind or not, and obeys none of them', () => {
    const facts = factsOf(
      [
        item('size', { desired: 'four' }),
        { ...request('r-1', '2026-12-05T09:59:00Z'), v: 99 },
        item('intent#grow-x', { count: 'x' }),
        item('mystery#1', {}),
      ],
      now,
    );

    expect(facts).toMatchObject({ size: undefined, requests: [], intents: [] });
    expect(facts.unreadable).toEqual(['size', 'request#r-1', 'intent#grow-x', 'mystery#1']);
  });

  it("reads the fleet's scheduled changes and its image; one that does not parse is named, never obeyed", () => {
    const change = {
      instanceId: 'i-1',
      source: 'health',
      eventId: 'arn:aws:health:us-east-1::event/EC2/X/1',
      code: 'AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED',
      startsAt: '2026-12-19T12:00:00.000Z',
      at: '2026-12-05T09:59:00Z',
    };
    const facts = factsOf(
      [
        item('scheduled#i-1#a', change),
        item('scheduled#i-2#b', { ...change, instanceId: 'i-2', startsAt: 19 }),
        item('scheduled#i-3#c', { ...change, instanceId: 'i-3', expiresAt: seconds(now) - 1 }),
        item('image', {
          ami: '/aws/service/ami',
          imageId: 'ami-0123456789abcdef0',
          at: '2026-12-05T09:00:00Z',
        }),
      ],
      now,
    );

    expect(facts.scheduledChanges).toEqual([change]);
    expect(facts.image).toEqual({
      ami: '/aws/service/ami',
      imageId: 'ami-0123456789abcdef0',
      at: '2026-12-05T09:00:00Z',
    });
    expect(facts.unreadable).toEqual(['scheduled#i-2#b']);
    const garbled = factsOf([item('image', { imageId: 7 })], now);
    expect(garbled.image).toBeUndefined();
    expect(garbled.unreadable).toEqual(['image']);
  });
});
