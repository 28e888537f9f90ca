import type { S3Client } from '@aws-sdk/client-s3';
import type { Worker } from '../model/worker';
import { readState, writeState } from './state-store';

/**
 * The deployment's own record of each worker it launched, in the state bucket (workers cannot write there): written
 * at launch, read on a spot warning so that the notification needs S3 and SNS only, never the EC2 client, which
 * takes the longest to load on a cold start. EC2 and the worker's tags stay the authority for everything the
 * handler does after notifying; a worker missing from the registry is simply looked up in EC2 first.
 */
export interface RegisteredWorker {
  readonly instanceId: string;
  readonly fleet: string;
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly subnetId: string;
  readonly market: string;
  readonly launchedAt: string;
}

export const registryKey = (managedBy: string, instanceId: string) =>
  `workers/${managedBy}/${instanceId}.json`;

/**
 * Records launched workers, one object each, in parallel. Resolves to the ids that could not be recorded: the
 * workers run either way, and a warning for one of them is handled through EC2 instead.
 */
export async function registerWorkers(
  s3: S3Client,
  bucket: string,
  managedBy: string,
  fleet: string,
  workers: readonly Worker[],
  at: Date,
): Promise<string[]> {
  const outcomes = await Promise.allSettled(
    workers.map((worker) =>
      writeState(s3, bucket, registryKey(managedBy, worker.instanceId), {
        instanceId: worker.instanceId,
        fleet,
        instanceType: worker.instanceType,
        availabilityZone: worker.availabilityZone,
        subnetId: worker.subnetId,
        market: worker.market,
        launchedAt: at.toISOString(),
      } satisfies RegisteredWorker),
    ),
  );
  return workers.flatMap((worker, n) => (outcomes[n]?.status === 'rejected' ? [worker.instanceId] : []));
}

/** The registered worker, or undefined when this deployment never recorded launching it. */
export async function lookUpWorker(
  s3: S3Client,
  bucket: string,
  managedBy: string,
  instanceId: string,
): Promise<RegisteredWorker | undefined> {
  return readState<RegisteredWorker>(s3, bucket, registryKey(managedBy, instanceId));
}
