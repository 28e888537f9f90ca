import { type InstanceEvent, parseInstanceEvent } from '../../src/events/instance';
import type { FleetWorld } from './fleet-world';

/** A spot fleet `batch` in the world's first two subnets, one worker unless overridden: the interruption tests' fleet. */
export function spotFleet(world: FleetWorld, overrides: Record<string, unknown> = {}) {
  return {
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large', 'm7g.large'],
      subnets: world.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
      market: 'spot-with-on-demand-fallback',
      targetCapacity: 1,
      ...overrides,
    },
  };
}

/** EC2's events about one instance, as EventBridge delivers them (narrowed by the handler's own parser). */
export const instanceEvents = {
  warning: (
    instanceId: string,
    { id = 'warning-1', time = new Date(), action = 'terminate', region }: WarningOptions = {},
  ): InstanceEvent =>
    parseInstanceEvent({
      version: '0',
      id,
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      time: time.toISOString(),
      ...(region === undefined ? {} : { region }),
      detail: { 'instance-id': instanceId, 'instance-action': action },
    }),
  rebalance: (instanceId: string, id = 'rebalance-1'): InstanceEvent =>
    parseInstanceEvent({
      id,
      'detail-type': 'EC2 Instance Rebalance Recommendation',
      source: 'aws.ec2',
      time: new Date().toISOString(),
      detail: { 'instance-id': instanceId },
    }),
  stateChange: (instanceId: string, state: string, id = `state-${state}`): InstanceEvent =>
    parseInstanceEvent({
      id,
      'detail-type': 'EC2 Instance State-change Notification',
      source: 'aws.ec2',
      time: new Date().toISOString(),
      detail: { 'instance-id': instanceId, state },
    }),
};

interface WarningOptions {
  readonly id?: string;
  readonly time?: Date;
  readonly action?: string;
  readonly region?: string;
}
