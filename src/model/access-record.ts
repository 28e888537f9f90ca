/** What told worker-fleet of an access: an S3 event notification, a CloudTrail data event, a server access log. */
export type AccessSource = 'event' | 'trail' | 'access-log';

/**
 * One access to a bucket, whatever source reported it: the schema of the `s3 access` log line
 * (docs/access-records.md). Fields a source does not know are absent, never guessed.
 */
export interface AccessRecord {
  /** ISO time of the request. */
  readonly time: string;
  readonly bucket: string;
  /** The object key, URL-decoded; empty for bucket-level operations. */
  readonly key: string;
  /**
   * The key as the source wrote it, when the source encodes keys (server access logs: once or twice by operation,
   * docs/access-key-encoding.md): what `key` was decoded from, kept so a decoding can be checked.
   */
  readonly rawKey?: string;
  /** The S3 API action (`GetObject`, `PutObject`, ...), or the source's own name when it has no API equivalent. */
  readonly operation: string;
  /** HTTP status; S3 event notifications only report successful requests (200). */
  readonly status?: number;
  readonly errorCode?: string;
  /** Bytes sent or received (object size for writes). */
  readonly bytes?: number;
  /** Who made the request: a role session ARN, a canonical user id or an account id; empty when anonymous. */
  readonly principal: string;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly source: AccessSource;
  /** How the caller's instance credentials were delivered: `1.0` IMDSv1, `2.0` IMDSv2 (CloudTrail only). */
  readonly credentialDelivery?: string;
}
