import type { S3Client } from '@aws-sdk/client-s3';
import type { PoolMemory } from '../model/pool';
import { readState, updateState } from './state-store';

/** Where a deployment keeps its pool memory in the state bucket. */
export const poolMemoryKey = (managedBy: string) => `pool-memory/${managedBy}.json`;

export async function loadPoolMemory(s3: S3Client, bucket: string, managedBy: string) {
  return readState<PoolMemory>(s3, bucket, poolMemoryKey(managedBy));
}

/** Applies a change to the pool memory, safely against concurrent writers (see `updateState`). */
export async function updatePoolMemory(
  s3: S3Client,
  bucket: string,
  managedBy: string,
  change: (memory: PoolMemory | undefined) => PoolMemory,
): Promise<void> {
  await updateState<PoolMemory>(s3, bucket, poolMemoryKey(managedBy), change);
}
