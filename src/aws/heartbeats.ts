import { createHash } from 'node:crypto';
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { HeartbeatStatus } from '../fleet/idle-policy';

export const HEARTBEAT_PREFIX = 'heartbeats/';
const STATUSES: readonly HeartbeatStatus[] = ['busy', 'idle', 'draining'];

/**
 * A heartbeat's body is its status word alone (`busy`, `idle`, `draining`, or `alive` for no status), so that with S3-managed encryption its
 * ETag (the body's MD5) tells the status without reading the object: a run costs one ListObjectsV2 per 1,000
 * heartbeats. An ETag that is none of these (another encryption, another body) is read to find out.
 */
const md5 = (body: string) => createHash('md5').update(body).digest('hex');
const STATUS_BY_ETAG = new Map<string, HeartbeatStatus | undefined>([
  ...STATUSES.map((status) => [md5(status), status] as const),
  // The agent says `alive` when the fleet names no busy signal: a fresh heartbeat, no status.
  [md5('alive'), undefined],
]);

export interface Heartbeat {
  readonly at: Date;
  readonly status?: HeartbeatStatus;
}

function statusOf(body: string): HeartbeatStatus | undefined {
  const word = body.trim().split(/\s/)[0] ?? '';
  if ((STATUSES as readonly string[]).includes(word)) return word as HeartbeatStatus;
  try {
    const parsed = JSON.parse(body) as { status?: unknown };
    return STATUSES.find((status) => status === parsed.status);
  } catch {
    return undefined;
  }
}

/** Every heartbeat in the fleet bucket, by instance id. */
export async function listHeartbeats(s3: S3Client, bucket: string): Promise<Map<string, Heartbeat>> {
  const heartbeats = new Map<string, Heartbeat>();
  const unread: { instanceId: string; key: string; at: Date }[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3, pageSize: 1000 },
    { Bucket: bucket, Prefix: HEARTBEAT_PREFIX },
  )) {
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? '';
      const instanceId = key.slice(HEARTBEAT_PREFIX.length);
      if (!/^i-[0-9a-f]{8,17}$/.test(instanceId) || object.LastModified === undefined) continue;
      const etag = (object.ETag ?? '').replaceAll('"', '');
      if (STATUS_BY_ETAG.has(etag)) {
        heartbeats.set(instanceId, { at: object.LastModified, status: STATUS_BY_ETAG.get(etag) });
      } else unread.push({ instanceId, key, at: object.LastModified });
    }
  }
  await Promise.all(
    unread.map(async ({ instanceId, key, at }) => {
      const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-255' }));
      heartbeats.set(instanceId, { at, status: statusOf((await output.Body?.transformToString()) ?? '') });
    }),
  );
  return heartbeats;
}
