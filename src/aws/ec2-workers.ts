import {
  type _InstanceType,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  type EC2Client,
  type Instance,
  paginateDescribeInstances,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { TAG, type Tags, tagMap } from '../model/tags';
import { isOwnedBy, LIVE_STATES, type Owner, type Worker } from '../model/worker';

/** DescribeInstances' largest page: a fleet of N workers costs ⌈N/1000⌉ calls. */
const PAGE_SIZE = 1000;

/** EC2 gives the time of a user-initiated stop or termination in text: `User initiated (2026-11-25 10:00:00 GMT)`. */
function stateChangedAt(reason: string | undefined): Date | undefined {
  const match = /\((\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) (?:GMT|UTC)\)/.exec(reason ?? '');
  return match === null ? undefined : new Date(`${match[1]}T${match[2]}Z`);
}

export function toWorker(instance: Instance): Worker {
  return {
    instanceId: instance.InstanceId ?? '',
    instanceType: instance.InstanceType ?? '',
    subnetId: instance.SubnetId ?? '',
    availabilityZone: instance.Placement?.AvailabilityZone ?? '',
    state: instance.State?.Name ?? 'unknown',
    market: instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
    launchTime: instance.LaunchTime,
    imageId: instance.ImageId,
    stateChangedAt: stateChangedAt(instance.StateTransitionReason),
    stateReason: instance.StateReason?.Code,
    tags: tagMap(instance.Tags),
    instanceProfileArn: instance.IamInstanceProfile?.Arn,
    launchIndex: instance.AmiLaunchIndex,
  };
}

/**
 * Lists a fleet's live workers: only instances that carry this deployment's managed-by tag and the fleet's name, and
 * run with its worker instance profile (isOwnedBy); an instance tagged by hand is neither counted nor touched.
 * Without a fleet, the deployment's live workers of every fleet, configured or not.
 */
export async function listFleetWorkers(
  ec2: EC2Client,
  owner: Owner & { fleet?: string },
  pageSize = PAGE_SIZE,
): Promise<Worker[]> {
  const workers: Worker[] = [];
  const pages = paginateDescribeInstances(
    { client: ec2, pageSize },
    {
      Filters: [
        { Name: `tag:${TAG.managedBy}`, Values: [owner.managedBy] },
        // Every fleet's when none is named (the orphans of fleets no longer configured are found among them).
        ...(owner.fleet === undefined ? [] : [{ Name: `tag:${TAG.fleet}`, Values: [owner.fleet] }]),
        { Name: 'instance-state-name', Values: [...LIVE_STATES] },
      ],
    },
  );
  for await (const page of pages) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) workers.push(toWorker(instance));
    }
  }
  return workers.filter((worker) => isOwnedBy(worker, owner));
}

/** EC2's answer for an instance id it does not know (never existed, or terminated long ago). */
const INSTANCE_NOT_FOUND = 'InvalidInstanceID.NotFound';

/**
 * Of instances launched and not listed yet, the ones EC2 says have already ended (shutting-down, terminated): they
 * are no longer in flight. An id EC2 does not know yet (its listing lags) is not among them.
 */
export async function endedAmong(ec2: EC2Client, instanceIds: readonly string[]): Promise<Set<string>> {
  const described = await describeWorkers(ec2, instanceIds);
  return new Set(
    [...described.values()]
      .filter((worker) => ['shutting-down', 'terminated'].includes(worker.state))
      .map((worker) => worker.instanceId),
  );
}

/**
 * Describes instances by id, in any state, 1,000 per call; an id EC2 does not know is absent from the answer (EC2
 * refuses a whole call for one unknown id: that batch is then asked one by one).
 */
export async function describeWorkers(
  ec2: EC2Client,
  instanceIds: readonly string[],
): Promise<Map<string, Worker>> {
  const workers = new Map<string, Worker>();
  for (const batch of batches(instanceIds)) {
    try {
      for await (const page of paginateDescribeInstances({ client: ec2 }, { InstanceIds: batch })) {
        for (const instance of (page.Reservations ?? []).flatMap(
          (reservation) => reservation.Instances ?? [],
        )) {
          workers.set(instance.InstanceId ?? '', toWorker(instance));
        }
      }
    } catch (error) {
      if (!(error instanceof Error && error.name === INSTANCE_NOT_FOUND)) throw error;
      for (const instanceId of batch) {
        const worker = await describeWorker(ec2, instanceId);
        if (worker !== undefined) workers.set(instanceId, worker);
      }
    }
  }
  return workers;
}

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

/**
 * The worker of this deployment that has an address (private first, then public), in any state but terminated:
 * addresses are reused once an instance is gone. Undefined when none has it.
 */
export async function findWorkerByAddress(
  ec2: EC2Client,
  managedBy: string,
  address: string,
): Promise<Worker | undefined> {
  for (const filter of ['private-ip-address', 'ip-address']) {
    const output = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${TAG.managedBy}`, Values: [managedBy] },
          { Name: filter, Values: [address] },
          { Name: 'instance-state-name', Values: [...LIVE_STATES, 'shutting-down'] },
        ],
      }),
    );
    const instance = output.Reservations?.[0]?.Instances?.[0];
    if (instance !== undefined) return toWorker(instance);
  }
  return undefined;
}

/** Batch size for tagging and terminating: one call per 1,000 workers. */
const BATCH = 1000;

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += BATCH) out.push(items.slice(start, start + BATCH));
  return out;
}

/** Sets the same tags on many workers, 1,000 per call. */
export async function tagWorkers(ec2: EC2Client, instanceIds: readonly string[], tags: Tags): Promise<void> {
  for (const batch of batches(instanceIds)) {
    await ec2.send(
      new CreateTagsCommand({
        Resources: batch,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }
}

/** Removes tags (whatever their values) from many workers, 1,000 per call. */
export async function untagWorkers(ec2: EC2Client, instanceIds: readonly string[], keys: readonly string[]) {
  for (const batch of batches(instanceIds)) {
    await ec2.send(new DeleteTagsCommand({ Resources: batch, Tags: keys.map((Key) => ({ Key })) }));
  }
}

export interface TerminationFailure {
  readonly instanceId: string;
  readonly code: string;
  readonly message: string;
}

/** EC2's refusal for an instance with termination protection (`DisableApiTermination`) on. */
export const TERMINATION_PROTECTED = 'OperationNotPermitted';

/**
 * Terminates workers, 1,000 per call. EC2 refuses a whole call for one bad instance (termination protection, a
 * throttle), so a refused batch is split in halves until each failure stands alone: every failure is reported with
 * its instance and never stops the rest, at O(k·log n) extra calls for k failures rather than one call per worker.
 */
export async function terminateWorkers(
  ec2: EC2Client,
  instanceIds: readonly string[],
): Promise<{ terminated: string[]; failed: TerminationFailure[] }> {
  const terminated: string[] = [];
  const failed: TerminationFailure[] = [];
  const attempt = async (ids: readonly string[]): Promise<void> => {
    try {
      const output = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [...ids] }));
      terminated.push(...(output.TerminatingInstances ?? []).map((instance) => instance.InstanceId ?? ''));
    } catch (error) {
      if (ids.length === 1) {
        failed.push({
          instanceId: ids[0] ?? '',
          code: (error as Error).name,
          message: (error as Error).message,
        });
        return;
      }
      const half = Math.ceil(ids.length / 2);
      await attempt(ids.slice(0, half));
      await attempt(ids.slice(half));
    }
  };
  for (const batch of batches(instanceIds)) await attempt(batch);
  return { terminated, failed };
}

/** Launches instances and returns them as workers; the request is built by the launcher, sent as is. */
export async function runInstances(ec2: EC2Client, input: RunInstancesCommandInput): Promise<Worker[]> {
  const output = await ec2.send(new RunInstancesCommand(input));
  return (output.Instances ?? []).map(toWorker);
}

export type InstanceType = _InstanceType;
