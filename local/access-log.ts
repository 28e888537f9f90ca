/**
 * Server access log lines as S3 writes them (every documented field, to source region), for the sandbox, the tests
 * and the benchmark: S3 never delivers access logs locally, so they are generated.
 */
export interface LoggedRequest {
  readonly bucket: string;
  readonly time: Date;
  /** A role session ARN, a canonical user id, or `-` for anonymous requests. */
  readonly requester: string;
  readonly operation: string;
  /** The raw key; it is URL-encoded in the line as S3 does. */
  readonly key: string;
  readonly status: number;
  readonly errorCode?: string;
  readonly bytes: number;
  readonly remoteIp: string;
  readonly requestId: string;
  readonly userAgent?: string;
}

const BUCKET_OWNER = '5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee5e1c0ffee0';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (value: number) => String(value).padStart(2, '0');

/** `[25/Nov/2026:09:10:00 +0000]` */
export function logTime(time: Date): string {
  return `[${two(time.getUTCDate())}/${MONTHS[time.getUTCMonth()]}/${time.getUTCFullYear()}:${two(
    time.getUTCHours(),
  )}:${two(time.getUTCMinutes())}:${two(time.getUTCSeconds())} +0000]`;
}

/** One log line for a request. */
export function accessLogLine(request: LoggedRequest): string {
  const key = encodeURIComponent(request.key).replaceAll('%2F', '/');
  const method = request.operation.split('.')[1] ?? 'GET';
  return [
    BUCKET_OWNER,
    request.bucket,
    logTime(request.time),
    request.remoteIp,
    request.requester,
    request.requestId,
    request.operation,
    key || '-',
    `"${method} /${request.bucket}/${key} HTTP/1.1"`,
    request.status,
    request.errorCode ?? '-',
    request.bytes || '-',
    request.bytes || '-',
    25,
    12,
    '"-"',
    `"${request.userAgent ?? 'aws-cli/2.22.0 md/arch#aarch64'}"`,
    '-',
    'hOsTiDqQ1234abcdEFGH=',
    'SigV4',
    'TLS_AES_128_GCM_SHA256',
    'AuthHeader',
    `${request.bucket}.s3.us-east-1.amazonaws.com`,
    'TLSv1.3',
    '-',
    '-',
    'us-east-1',
  ].join(' ');
}

/** The session ARN of a worker's instance-profile credentials. */
export const workerSession = (roleName: string, instanceId: string, account = '123456789012') =>
  `arn:aws:sts::${account}:assumed-role/${roleName}/${instanceId}`;
