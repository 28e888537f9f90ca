import { loadConfig } from '../../../src/config';
import { parseInstanceEvent } from '../../../src/events/instance';
import { staleness } from '../../../src/fleet/interruption-notice';
import { fleetOf } from '../../../src/fleet/spot-interruption';
import { TAG } from '../../../src/model/tags';
import type { Worker } from '../../../src/model/worker';
import { envWith } from '../fixtures';

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
  const config = loadConfig(envWith());
  const worker = (tags: Record<string, string>): Worker => ({
    instanceId: 'i-0123456789abcdef0',
    instanceType: 'c7g.large',
    subnetId: 'subnet-0123456789abcdef0',
    availabilityZone: 'us-east-1a',
    state: 'running',
    market: 'spot',
    tags,
  });

  it('finds the fleet of a worker of this deployment', () => {
    expect(
      fleetOf(worker({ [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'batch' }), config)?.fleet,
    ).toBe('batch');
  });

  it.each([
    ['no tags', {}],
    ['another stage', { [TAG.managedBy]: 'worker-fleet-prod', [TAG.fleet]: 'batch' }],
    ['a fleet no longer configured', { [TAG.managedBy]: 'worker-fleet-dev', [TAG.fleet]: 'gone' }],
    ['no fleet tag', { [TAG.managedBy]: 'worker-fleet-dev' }],
  ])('says not ours for %s', (_name, tags) => {
    expect(fleetOf(worker(tags), config)).toBeUndefined();
  });

  it('says not ours for an instance EC2 does not know', () => {
    expect(fleetOf(undefined, config)).toBeUndefined();
  });
});
