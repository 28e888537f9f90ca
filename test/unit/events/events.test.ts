import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidEventError } from '../../../src/errors';
import { parseInstanceEvent } from '../../../src/events/instance';
import { parseLaunchTrigger } from '../../../src/events/launch';
import { assertNever } from '../../../src/events/parse';
import { parseReaperInvocation, parseReapRequest } from '../../../src/events/reap';
import { EVENT_SOURCE, WORKER_DRAINING } from '../../../src/model/notification';

const sample = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '../../../events', name), 'utf8'));

describe('parseLaunchTrigger', () => {
  it('reads a schedule as a run for every fleet, keyed by the event id, with its time', () => {
    expect(parseLaunchTrigger(sample('launch-schedule.json'), 'inv')).toEqual({
      kind: 'schedule',
      id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
      time: new Date('2026-11-25T09:00:00Z'),
    });
  });

  it('reads a Launch Workers Requested event', () => {
    expect(parseLaunchTrigger(sample('launch-requested.json'), 'inv')).toEqual({
      kind: 'event',
      id: '7bf73129-1428-4cd3-a780-95db273d1602',
      fleet: 'batch',
      count: 2,
      time: new Date('2026-11-25T09:05:00Z'),
    });
  });

  it('reads a direct invocation keyed by its requestId', () => {
    expect(parseLaunchTrigger(sample('launch-direct.json'), 'inv')).toEqual({
      kind: 'direct',
      id: 'manual-2026-11-25-0001',
      fleet: 'batch',
      target: 3,
    });
  });

  it('keys a direct invocation without requestId by the Lambda request id', () => {
    expect(parseLaunchTrigger({ fleet: 'batch' }, 'lambda-request-1')).toEqual({
      kind: 'direct',
      id: 'lambda-request-1',
      fleet: 'batch',
    });
  });

  it('reads a direct invocation without a fleet as a run for every fleet', () => {
    expect(parseLaunchTrigger({}, 'lambda-request-2')).toEqual({ kind: 'direct', id: 'lambda-request-2' });
  });

  it.each([
    [null, 'expected a JSON object'],
    [[], 'expected a JSON object'],
    ['batch', 'expected a JSON object'],
    [{ fleet: 'batch', count: -1 }, 'malformed launch request: count: '],
    [{ fleet: 'batch', count: 1, target: 2 }, 'give count or target, not both'],
    [{ count: 2 }, 'count and target need a fleet'],
    [{ target: 3 }, 'malformed launch request: (root): count and target need a fleet'],
    [{ fleet: 'batch', size: 2 }, 'malformed launch request'],
    [{ 'detail-type': 'Scheduled Event', source: 'aws.events' }, 'malformed scheduled event: id: '],
    [
      {
        'detail-type': 'Launch Workers Requested',
        source: 'somebody-else',
        id: 'x',
        detail: { fleet: 'batch' },
      },
      'malformed "Launch Workers Requested" event: source: ',
    ],
    [
      { 'detail-type': 'Launch Workers Requested', source: 'worker-fleet', id: 'x', detail: { count: 2 } },
      'detail.fleet: ',
    ],
    [{ 'detail-type': 'EC2 Spot Instance Interruption Warning' }, 'unsupported detail-type'],
  ])('rejects %j with a clear error', (event, message) => {
    expect(() => parseLaunchTrigger(event, 'inv')).toThrow(InvalidEventError);
    expect(() => parseLaunchTrigger(event, 'inv')).toThrow(message);
  });
});

describe('parseInstanceEvent', () => {
  it('reads the spot interruption warning sample', () => {
    expect(parseInstanceEvent(sample('spot-interruption-warning.json'))).toEqual({
      kind: 'spot-warning',
      id: '1e5527d7-bb36-4607-3370-4164db56a40e',
      time: new Date('2026-11-25T09:10:00Z'),
      region: 'us-east-1',
      instanceId: 'i-1234567890abcdef0',
      action: 'terminate',
    });
  });

  it('reads the rebalance recommendation sample', () => {
    expect(parseInstanceEvent(sample('rebalance-recommendation.json'))).toMatchObject({
      kind: 'rebalance',
      instanceId: 'i-1234567890abcdef0',
    });
  });

  it('reads the state-change sample', () => {
    expect(parseInstanceEvent(sample('instance-state-change-terminated.json'))).toMatchObject({
      kind: 'state-change',
      instanceId: 'i-1234567890abcdef0',
      state: 'terminated',
    });
  });

  it.each(['stop', 'hibernate'])('reads a spot warning whose action is %s', (action) => {
    const event = sample('spot-interruption-warning.json') as { detail: Record<string, string> };

    expect(
      parseInstanceEvent({ ...event, detail: { ...event.detail, 'instance-action': action } }),
    ).toMatchObject({ kind: 'spot-warning', action });
  });

  it('reads an event time with a UTC offset', () => {
    const event = sample('rebalance-recommendation.json') as object;

    expect(parseInstanceEvent({ ...event, time: '2026-11-25T10:10:00+01:00' })).toMatchObject({
      time: new Date('2026-11-25T09:10:00Z'),
    });
  });

  const warning = sample('spot-interruption-warning.json') as Record<string, unknown>;
  it.each([
    [
      { ...warning, detail: { 'instance-id': 'web-1', 'instance-action': 'terminate' } },
      'detail.instance-id: must be an instance id',
    ],
    [
      { ...warning, detail: { 'instance-id': 'i-1234567890abcdef0', 'instance-action': 'explode' } },
      'detail.instance-action: ',
    ],
    [{ ...warning, time: 'soon' }, 'time: '],
    [
      { ...warning, detail: { 'instance-id': 'xi-1234567890abcdef0', 'instance-action': 'terminate' } },
      'detail.instance-id: must be an instance id',
    ],
    [
      { ...warning, detail: { 'instance-id': 'i-1234567890abcdef0x', 'instance-action': 'terminate' } },
      'detail.instance-id: must be an instance id',
    ],
    [
      { ...(sample('rebalance-recommendation.json') as object), source: 'my.app' },
      'malformed "EC2 Instance Rebalance Recommendation" event: source: ',
    ],
    [
      { ...(sample('instance-state-change-terminated.json') as object), source: 'my.app' },
      'malformed "EC2 Instance State-change Notification" event: source: ',
    ],
    [{ ...warning, source: 'my.app' }, 'malformed "EC2 Spot Instance Interruption Warning" event: source: '],
    [
      {
        ...(sample('instance-state-change-terminated.json') as object),
        detail: { 'instance-id': 'i-1234567890abcdef0', state: 'running' },
      },
      'detail.state: ',
    ],
    [
      { 'detail-type': 'Scheduled Event' },
      'unsupported detail-type "Scheduled Event" for spot interruptions',
    ],
    [{}, 'unsupported detail-type undefined'],
    [null, 'unsupported detail-type undefined'],
    [undefined, 'unsupported detail-type undefined'],
    ['Scheduled Event', 'unsupported detail-type undefined'],
  ])('rejects %j with a clear error', (event, message) => {
    expect(() => parseInstanceEvent(event)).toThrow(InvalidEventError);
    expect(() => parseInstanceEvent(event)).toThrow(message);
  });
});

describe('parseReapRequest', () => {
  it('reads the schedule as a run over every fleet', () => {
    expect(parseReapRequest(sample('launch-schedule.json'))).toEqual({});
  });

  it('reads a direct invocation naming a fleet and a dry run', () => {
    expect(parseReapRequest(sample('reap-direct.json'))).toEqual({ fleet: 'batch', dryRun: true });
    expect(parseReapRequest({})).toEqual({});
  });

  it.each([
    [{ 'detail-type': 'Scheduled Event', source: 'aws.events' }, 'malformed scheduled event: id: '],
    [{ fleet: 'batch', dryRun: 'yes' }, 'malformed reap request: dryRun: '],
    [{ fleet: 'batch', force: true }, 'malformed reap request: '],
    [null, 'malformed reap request: (root): '],
    ['batch', 'malformed reap request: (root): '],
  ])('rejects %j with a clear error', (event, message) => {
    expect(() => parseReapRequest(event)).toThrow(InvalidEventError);
    expect(() => parseReapRequest(event)).toThrow(message);
  });
});

describe('parseReaperInvocation', () => {
  it('reads a drain, graceful by default, at once, shrinking or dry', () => {
    expect(parseReaperInvocation(sample('drain-direct.json'))).toEqual({
      kind: 'drain',
      drain: { instanceId: 'i-0123456789abcdef0', now: false, shrink: false, dryRun: false },
    });
    expect(parseReaperInvocation({ drain: 'i-01234567', now: true, shrink: true, dryRun: true })).toEqual({
      kind: 'drain',
      drain: { instanceId: 'i-01234567', now: true, shrink: true, dryRun: true },
    });
  });

  it('reads the retire schedule’s input as a run that only carries retirements on', () => {
    expect(parseReaperInvocation(sample('retire-tick.json'))).toEqual({
      kind: 'reap',
      request: { retireOnly: true },
    });
  });

  it('reads anything else as a reap trigger', () => {
    expect(parseReaperInvocation(sample('reap-direct.json'))).toEqual({
      kind: 'reap',
      request: { fleet: 'batch', dryRun: true },
    });
    expect(parseReaperInvocation(sample('launch-schedule.json'))).toEqual({ kind: 'reap', request: {} });
  });

  it.each([
    [{ drain: 'i-xyz' }, 'malformed drain request: drain: must be an instance id'],
    [{ drain: 'i-0123456789abcdef0', now: 'yes' }, 'malformed drain request: now: '],
    // --force is gone: IAM denies the reaper a protected worker's termination, so it could never work.
    [{ drain: 'i-0123456789abcdef0', force: true }, 'malformed drain request: '],
    [{ drain: 'i-0123456789abcdef0', fleet: 'batch' }, 'malformed drain request: '],
    [{ fleet: 'batch', force: true }, 'malformed reap request: '],
  ])('rejects %j with a clear error', (event, message) => {
    expect(() => parseReaperInvocation(event)).toThrow(InvalidEventError);
    expect(() => parseReaperInvocation(event)).toThrow(message);
  });
});

describe('assertNever', () => {
  it('rejects a value the types rule out, showing it', () => {
    expect(() => assertNever('surprise' as never)).toThrow(
      new InvalidEventError('unexpected value "surprise"'),
    );
  });
});

describe('the Worker Draining event', () => {
  it('is named as the docs document it for the systems that subscribe to it', () => {
    const readme = readFileSync(join(__dirname, '../../../docs/interruptions.md'), 'utf8');

    expect(readme).toContain(`\`${WORKER_DRAINING}\` event (\`source: ${EVENT_SOURCE}\``);
  });
});
