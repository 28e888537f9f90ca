import { parseInstanceEvent } from '../../../src/events/instance';
import { staleness, standingOf, warningNotification } from '../../../src/fleet/interruption-notice';
import { fleetOf } from '../../../src/fleet/spot-interruption';
import { TAG } from '../../../src/model/tags';
import type { Worker } from '../../../src/model/worker';
import { configWith, WORKER_PROFILE_ARN } from '../fixtures';

const time = new Date('2026-11-25T09:10:00Z');
const at = (seconds: number) => new Date(time.getTime() + seconds * 1000);
const event = (detailType: string, detail: Record<string, unknown>) =>
  parseInstanceEvent({
    id: 'e',
    'detail-type': detailType,
    source: 'aws.ec2',
    time: time.toISOString(),
    detail,
  });
const warning = event('EC2 Spot Instance Interruption Warning', {
  'instance-id': 'i-0123456789abcdef0',
  'instance-action': 'terminate',
});
const rebalance = event('EC2 Instance Rebalance Recommendation', { 'instance-id': 'i-0123456789abcdef0' });
const terminated = event('EC2 Instance State-change Notification', {
  'instance-id': 'i-0123456789abcdef0',
  state: 'terminated',
});

describe('staleness', () => {
  it.each([
    ['a warning at its deadline', warning, 120, false],
    ['a warning a minute past its deadline', warning, 180, false],
    ['a warning more than a minute past its deadline', warning, 181, true],
    ['a rebalance recommendation of 15 minutes', rebalance, 900, false],
    ['a rebalance recommendation of 16 minutes', rebalance, 960, true],
    ['a termination of a day ago', terminated, 86_400, false],
  ])('judges %s stale: %s', (_name, instanceEvent, seconds, stale) => {
    expect(staleness(instanceEvent, at(seconds)) !== undefined).toBe(stale);
  });
});

describe('fleetOf', () => {
  const config = configWith();
  const worker = (
    tags: Record<string, string>,
    profile: { arn?: string } = { arn: WORKER_PROFILE_ARN },
  ): Worker => ({
    instanceId: 'i-0123456789abcdef0',
    instanceType: 'c7g.large',
    subnetId: 'subnet-0123456789abcdef0',
    availabilityZone: 'us-east-1a',
    state: 'running',
    market: 'spot',
    tags,
    instanceProfileArn: profile.arn,
  });

  it('finds the fleet of a worker of this deployment', () => {
    expect(
      fleetOf(worker({ [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'batch' }), config)?.fleet,
    ).toBe('batch');
  });

  it.each([
    ['no tags', {}],
    ['another stage', { [TAG.managedBy]: 'worker-fleet-prod', [TAG.fleet]: 'batch' }],
    ['no fleet tag', { [TAG.managedBy]: 'worker-fleet-dev' }],
  ])('says not ours for %s', (_name, tags) => {
    expect(fleetOf(worker(tags), config)).toBeUndefined();
  });

  it('finds an orphan: a worker of this deployment whose fleet is no longer configured, without a spec', () => {
    const found = fleetOf(worker({ [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'gone' }), config);

    expect(found).toEqual({ fleet: 'gone' });
  });

  it('gives the spec of a configured fleet', () => {
    const found = fleetOf(worker({ [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'batch' }), config);

    expect(found?.spec).toBe(config.fleets.batch);
  });

  it.each([
    ['no instance profile', {}],
    ['another instance profile', { arn: 'arn:aws:iam::123456789012:instance-profile/admin' }],
    [
      'a profile whose name only ends like the worker one',
      { arn: 'arn:aws:iam::123456789012:instance-profile/x-worker-fleet-dev-worker' },
    ],
    ['a role ARN of the same name', { arn: 'arn:aws:iam::123456789012:role/worker-fleet-dev-worker' }],
  ])('says not ours for a hand-tagged instance with %s', (_name, profile) => {
    const tags = { [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'batch' };

    expect(fleetOf(worker(tags, profile), config)).toBeUndefined();
  });

  it.each(['shutting-down', 'terminated'])(
    'finds the fleet of a %s worker by its tag alone: nothing is changed on it',
    (state) => {
      const tags = { [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'batch' };
      const ended = (managedBy: string) => ({
        ...worker({ ...tags, [TAG.managedBy]: managedBy }, {}),
        state,
      });

      expect(fleetOf(ended('worker-fleet-dev'), config)?.fleet).toBe('batch');
      expect(fleetOf(ended('worker-fleet-prod'), config)).toBeUndefined();
    },
  );

  it('finds the worker profile under a path', () => {
    const tags = { [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'batch' };
    const arn = 'arn:aws:iam::123456789012:instance-profile/fleet/worker-fleet-dev-worker';

    expect(fleetOf(worker(tags, { arn }), config)?.fleet).toBe('batch');
  });

  it('says not ours for an instance EC2 does not know', () => {
    expect(fleetOf(undefined, config)).toBeUndefined();
  });
});

describe('the warning notification', () => {
  const config = configWith();
  const noticed = {
    instanceId: 'i-0123456789abcdef0',
    instanceType: 'c7g.large',
    availabilityZone: 'us-east-1a',
    subnetId: 'subnet-0123456789abcdef0',
  };
  const spotWarning = warning.kind === 'spot-warning' ? warning : undefined;
  if (spotWarning === undefined) throw new Error('the sample is not a warning');

  it.each([
    ['a configured fleet', 'configured', { config }, 'batch'],
    ['a fleet no longer configured', 'orphan', { config }, 'gone'],
    [
      'any fleet without a readable configuration',
      'unknown',
      { config, configurationError: new Error('x') },
      'batch',
    ],
  ] as const)('judges %s as %s', (_name, standing, deps, fleet) => {
    expect(standingOf(deps, fleet)).toBe(standing);
  });

  it("says an orphan's worker is an orphan that nothing replaces, in its subject and its body", () => {
    const notification = warningNotification(spotWarning, noticed, 'gone', 'orphan');

    expect(notification.subject).toMatch(
      /^worker-fleet gone \(orphan\): spot interruption of i-0123456789abcdef0/,
    );
    expect(notification.details).toMatchObject({
      orphan: true,
      replacement: expect.stringContaining('none'),
    });
  });

  it.each(['configured', 'unknown'] as const)('says nothing of orphans for a fleet %s', (standing) => {
    const notification = warningNotification(spotWarning, noticed, 'batch', standing);

    expect(notification.subject).not.toContain('orphan');
    expect(notification.details).not.toHaveProperty('orphan');
    expect(notification.details).toMatchObject({ correlationId: 'e', deadline: '2026-11-25T09:12:00.000Z' });
  });
});
