import type { S3Client } from '@aws-sdk/client-s3';
import { updatePoolMemory } from '../aws/pool-memory-store';
import type { Pool, PoolEventKind } from '../model/pool';
import { rememberPoolEvents } from './pool-memory';

/** Records what pools did in the deployment's pool memory: merged and decayed by `rememberPoolEvents`. */
export async function recordPoolEvents(
  s3: S3Client,
  bucket: string,
  managedBy: string,
  events: readonly { pool: Pick<Pool, 'instanceType' | 'subnetId'>; kind: PoolEventKind }[],
  now: Date,
): Promise<void> {
  if (events.length === 0) return;
  await updatePoolMemory(s3, bucket, managedBy, (memory) => rememberPoolEvents(memory, events, now));
}
