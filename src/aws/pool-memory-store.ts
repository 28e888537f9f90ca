import type { S3Client } from '@aws-sdk/client-s3';
import { type PoolEventKind, type PoolMemory, rememberPoolEvents } from '../fleet/pool-memory';
import type { Pool } from '../fleet/pools';
import { readState, updateState } from './state-store';

/** Where a deployment keeps its pool memory in the state bucket. */
export const poolMemoryKey = (managedBy: string) => `pool-memory/${managedBy}.json`;

export async function loadPoolMemory(s3: S3Client, bucket: string, managedBy: string) {
  return readState<PoolMemory>(s3, bucket, poolMemoryKey(managedBy));
}

/** Records what pools did, safely against concurrent writers (see `updateState`). */
export async function recordPoolEvents(
  s3: S3Client,
  bucket: string,
  managedBy: string,
  events: readonly { pool: Pick<Pool, 'instanceType' | 'subnetId'>; kind: PoolEventKind }[],
  now: Date,
): Promise<void> {
  if (events.length === 0) return;
  await updateState<PoolMemory>(s3, bucket, poolMemoryKey(managedBy), (memory) =>
    rememberPoolEvents(memory, events, now),
  );
}
