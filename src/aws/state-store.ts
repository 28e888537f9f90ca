import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** S3 refuses a conditional write whose condition fails (412) or that races another (409): both mean "lost". */
const LOST_RACE = new Set(['PreconditionFailed', 'ConditionalRequestConflict']);

/** `If-None-Match: *` (only if absent) or `If-Match: <etag>` (only if unchanged); none for a plain write. */
type WriteCondition = { readonly IfNoneMatch: '*' } | { readonly IfMatch: string } | Record<string, never>;

/** Writes a JSON document under a condition: its new ETag when written, undefined when the condition lost. */
async function putJson(
  s3: S3Client,
  bucket: string,
  key: string,
  value: object,
  condition: WriteCondition,
): Promise<string | undefined> {
  try {
    const output = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(value),
        ContentType: 'application/json',
        ...condition,
      }),
    );
    return output.ETag ?? '';
  } catch (error) {
    if (error instanceof Error && LOST_RACE.has(error.name)) return undefined;
    throw error;
  }
}

/** Writes a JSON document only if none exists (`If-None-Match: *`): its ETag, or undefined when one does. */
export async function createIfAbsent(s3: S3Client, bucket: string, key: string, value: object) {
  return putJson(s3, bucket, key, value, { IfNoneMatch: '*' });
}

/** Replaces a JSON document only if it is still the version read (`If-Match`): its new ETag, or undefined. */
export async function replaceIfMatch(s3: S3Client, bucket: string, key: string, etag: string, value: object) {
  return putJson(s3, bucket, key, value, { IfMatch: etag });
}

/**
 * Claims `key` for the caller: true for exactly one caller however many race for it (S3 `If-None-Match: *`),
 * false for every other. This is how worker-fleet does a thing once per instance, not once per event.
 */
export async function claimOnce(s3: S3Client, bucket: string, key: string, claim: object): Promise<boolean> {
  return (await createIfAbsent(s3, bucket, key, claim)) !== undefined;
}

/** Gives a claim back, so that a retry can do what the claim was for. */
export async function releaseClaim(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Writes a JSON document unconditionally: for a document only the caller's claim lets it write. */
export async function writeState(s3: S3Client, bucket: string, key: string, value: object): Promise<void> {
  await putJson(s3, bucket, key, value, {});
}

/** Replaces a JSON document only if it is still the version read (`If-Match`): true for the one writer that wins. */
export async function replaceIfUnchanged(
  s3: S3Client,
  bucket: string,
  key: string,
  etag: string,
  value: object,
) {
  return (await replaceIfMatch(s3, bucket, key, etag, value)) !== undefined;
}

export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

/** Reads a JSON document with its ETag (for a later conditional write), or undefined when there is none. */
export async function readJson<T>(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Versioned<T> | undefined> {
  try {
    const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await output.Body?.transformToString()) ?? '';
    return { value: JSON.parse(text) as T, etag: output.ETag ?? '' };
  } catch (error) {
    if (error instanceof Error && error.name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** Reads a JSON document, or undefined when there is none yet. */
export async function readState<T>(s3: S3Client, bucket: string, key: string): Promise<T | undefined> {
  return (await readJson<T>(s3, bucket, key))?.value;
}

/** Waits a random time up to `ceilingMs`: writers that lost a race retry apart, not in lockstep. */
const jitter = (ceilingMs: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * ceilingMs));

/**
 * Read-modify-write of a JSON document with optimistic concurrency (`If-Match` on the ETag, `If-None-Match: *` when
 * it does not exist yet): concurrent writers never lose each other's changes; a writer that loses waits a jittered,
 * growing while (full jitter, 20 ms doubling to 640 ms), re-reads and applies its change again, up to `attempts`
 * times. `change` may run more than once and must be a pure function of what it is given.
 */
export async function updateState<T extends object>(
  s3: S3Client,
  bucket: string,
  key: string,
  change: (current: T | undefined) => T,
  attempts = 12,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const current = await readJson<T>(s3, bucket, key);
    const next = change(current?.value);
    const condition = current === undefined ? { IfNoneMatch: '*' as const } : { IfMatch: current.etag };
    if ((await putJson(s3, bucket, key, next, condition)) !== undefined) return next;
    if (attempt >= attempts) throw new Error(`${key} changed under ${attempts} attempts to update it`);
    await jitter(20 * 2 ** Math.min(attempt - 1, 5));
  }
}

/** S3 errors that mean the state bucket is unavailable now (not a lost race, not a refusal). */
export function stateUnavailable(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
  return status >= 500 || (error instanceof Error && ['SlowDown', 'ServiceUnavailable'].includes(error.name));
}
