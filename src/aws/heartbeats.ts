import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import {
  HEARTBEAT_PREFIX,
  HEARTBEAT_STATUS_BY_ETAG,
  type Heartbeat,
  heartbeatInstance,
  heartbeatStatus,
} from '../model/heartbeat';

/**
 * Every heartbeat the worker role's sessions wrote in the fleet bucket, by instance id: one ListObjectsV2 per 1,000
 * heartbeats (under `heartbeats/<role-id>:`), and a read only of those whose ETag does not tell the status (see
 * model/heartbeat.ts). A worker writes its heartbeat as it likes (an archive storage class, its own encryption key,
 * an empty body a range cannot read): a read that fails marks that one heartbeat `unreadable` with the error's name,
 * and never fails the listing of the others.
 */
export async function listHeartbeats(
  s3: S3Client,
  bucket: string,
  roleId: string,
): Promise<Map<string, Heartbeat>> {
  const heartbeats = new Map<string, Heartbeat>();
  const unread: { instanceId: string; key: string; at: Date }[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3, pageSize: 1000 },
    { Bucket: bucket, Prefix: `${HEARTBEAT_PREFIX}${roleId}:` },
  )) {
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? '';
      const instanceId = heartbeatInstance(key, roleId);
      if (instanceId === undefined || object.LastModified === undefined) continue;
      const etag = (object.ETag ?? '').replaceAll('"', '');
      if (HEARTBEAT_STATUS_BY_ETAG.has(etag)) {
        heartbeats.set(instanceId, { at: object.LastModified, status: HEARTBEAT_STATUS_BY_ETAG.get(etag) });
      } else unread.push({ instanceId, key, at: object.LastModified });
    }
  }
  await Promise.all(
    unread.map(async ({ instanceId, key, at }) => {
      try {
        const output = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-255' }),
        );
        heartbeats.set(instanceId, {
          at,
          status: heartbeatStatus((await output.Body?.transformToString()) ?? ''),
        });
      } catch (error) {
        heartbeats.set(instanceId, { at, unreadable: error instanceof Error ? error.name : String(error) });
      }
    }),
  );
  return heartbeats;
}
