import {
  type _InstanceType,
  CreateTagsCommand,
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
  paginateDescribeInstances,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { TAG, type Tags, tagMap } from '../fleet/tags';

export type Market = 'spot' | 'on-demand';

/** A fleet instance as worker-fleet sees it. */
export interface Worker {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly availabilityZone: string;
  readonly state: string;
  readonly market: Market;
  readonly launchTime?: Date;
  readonly tags: Tags;
}

/** States in which an instance still exists as a worker (terminated ones are history). */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'] as const;

/** DescribeInstances' largest page: a fleet of N workers costs ⌈N/1000⌉ calls. */
const PAGE_SIZE = 1000;

export function toWorker(instance: Instance): Worker {
  return {
    instanceId: instance.InstanceId ?? '',
    instanceType: instance.InstanceType ?? '',
    subnetId: instance.SubnetId ?? '',
    availabilityZone: instance.Placement?.AvailabilityZone ?? '',
    state: instance.State?.Name ?? 'unknown',
    market: instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    launchTime: instance.LaunchTime,
    tags: tagMap(instance.Tags),
  };
}

/** Lists a fleet's live workers: only instances that carry this deployment's managed-by tag and the fleet's name. */
export async function listFleetWorkers(
  ec2: EC2Client,
  owner: { managedBy: string; fleet: string },
): Promise<Worker[]> {
  const workers: Worker[] = [];
  const pages = paginateDescribeInstances(
    { client: ec2, pageSize: PAGE_SIZE },
    {
      Filters: [
        { Name: `tag:${TAG.managedBy}`, Values: [owner.managedBy] },
        { Name: `tag:${TAG.fleet}`, Values: [owner.fleet] },
        { Name: 'instance-state-name', Values: [...LIVE_STATES] },
      ],
    },
  );
  for await (const page of pages) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) workers.push(toWorker(instance));
    }
  }
  return workers;
}

/** EC2's answer for an instance id it does not know (never existed, or terminated long ago). */
const INSTANCE_NOT_FOUND = 'InvalidInstanceID.NotFound';

/** Describes one instance, in any state; undefined when EC2 does not know it. */
export async function describeWorker(ec2: EC2Client, instanceId: string): Promise<Worker | undefined> {
  try {
    const output = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = output.Reservations?.[0]?.Instances?.[0];
    return instance === undefined ? undefined : toWorker(instance);
  } catch (error) {
    if (error instanceof Error && error.name === INSTANCE_NOT_FOUND) return undefined;
    throw error;
  }
}

/** Sets tags on one worker. Callers check ownership first; IAM allows it only on managed instances. */
export async function tagWorker(ec2: EC2Client, instanceId: string, tags: Tags): Promise<void> {
  await ec2.send(
    new CreateTagsCommand({
      Resources: [instanceId],
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
}

/** Launches instances and returns them as workers; the request is built by the launcher, sent as is. */
export async function runInstances(ec2: EC2Client, input: RunInstancesCommandInput): Promise<Worker[]> {
  const output = await ec2.send(new RunInstancesCommand(input));
  return (output.Instances ?? []).map(toWorker);
}

export type InstanceType = _InstanceType;
