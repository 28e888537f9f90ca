import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/** An object's bytes as they arrive, never held whole: a log file of any size costs one chunk of memory. */
export async function* streamObject(s3: S3Client, bucket: string, key: string): AsyncGenerator<Uint8Array> {
  const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = output.Body as AsyncIterable<Uint8Array> | undefined;
  if (body === undefined) return;
  yield* body;
}
