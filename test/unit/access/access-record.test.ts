import { accessLogLine } from '../../../local/access-log';
import {
  accessFromLogEntry,
  accountOf,
  isAccessDenied,
  workerSessionInstance,
} from '../../../src/access/access-record';
import { parseServerAccessLogLine, type ServerAccessLogEntry } from '../../../src/access/server-access-log';
import type { AccessRecord } from '../../../src/model/access-record';

function entry(overrides: Partial<Parameters<typeof accessLogLine>[0]> = {}): ServerAccessLogEntry {
  const parsed = parseServerAccessLogLine(
    accessLogLine({
      bucket: 'fleet',
      time: new Date('2026-11-25T09:10:00Z'),
      requester: 'arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0',
      operation: 'REST.GET.OBJECT',
      key: 'results/part 1.json',
      status: 200,
      bytes: 512,
      remoteIp: '10.0.0.7',
      requestId: 'R1',
      ...overrides,
    }),
  );
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

describe('accessFromLogEntry', () => {
  it('turns a log line into a record named after the API action, with the decoded key', () => {
    expect(accessFromLogEntry(entry())).toEqual({
      time: '2026-11-25T09:10:00.000Z',
      bucket: 'fleet',
      key: 'results/part 1.json',
      rawKey: 'results/part%201.json',
      operation: 'GetObject',
      status: 200,
      bytes: 512,
      principal: 'arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0',
      sourceIp: '10.0.0.7',
      requestId: 'R1',
      source: 'access-log',
    });
  });

  it('keeps the Key field beside the key it names, and has neither for an operation without a key', () => {
    expect(accessFromLogEntry(plainEntry({ key: 'a b', rawKey: 'a%2520b' }))).toMatchObject({
      key: 'a b',
      rawKey: 'a%2520b',
    });
    expect(accessFromLogEntry(plainEntry({ key: '', rawKey: '' }))).not.toHaveProperty('rawKey');
  });

  it('keeps the error code of a refused request, and an operation with no API name as it is', () => {
    expect(
      accessFromLogEntry(entry({ status: 403, errorCode: 'AccessDenied', operation: 'REST.GET.ACL' })),
    ).toMatchObject({ status: 403, errorCode: 'AccessDenied', operation: 'REST.GET.ACL' });
  });
});

/** The entry as a plain object, some fields replaced: what a parser of another layout could hand over. */
const plainEntry = (overrides: Partial<ServerAccessLogEntry>): ServerAccessLogEntry => ({
  ...(JSON.parse(JSON.stringify(entry())) as ServerAccessLogEntry),
  ...overrides,
});

describe('accessFromLogEntry: operations', () => {
  it.each([
    ['REST.GET.OBJECT', 'GetObject'],
    ['REST.HEAD.OBJECT', 'HeadObject'],
    ['REST.PUT.OBJECT', 'PutObject'],
    ['REST.POST.OBJECT', 'PostObject'],
    ['REST.COPY.OBJECT', 'CopyObject'],
    ['REST.COPY.OBJECT_GET', 'CopyObject'],
    ['REST.DELETE.OBJECT', 'DeleteObject'],
    ['BATCH.DELETE.OBJECT', 'DeleteObject'],
    ['REST.POST.MULTI_OBJECT_DELETE', 'DeleteObjects'],
    ['REST.GET.BUCKET', 'ListObjects'],
    ['REST.HEAD.BUCKET', 'HeadBucket'],
    ['REST.POST.UPLOADS', 'CreateMultipartUpload'],
    ['REST.PUT.PART', 'UploadPart'],
    ['REST.COPY.PART', 'UploadPartCopy'],
    ['REST.POST.UPLOAD', 'CompleteMultipartUpload'],
    ['REST.DELETE.UPLOAD', 'AbortMultipartUpload'],
    ['REST.GET.OBJECT_TAGGING', 'GetObjectTagging'],
    ['REST.PUT.OBJECT_TAGGING', 'PutObjectTagging'],
  ])('names %s after the API action %s', (operation, action) => {
    expect(accessFromLogEntry(plainEntry({ operation })).operation).toBe(action);
  });
});

describe('accessFromLogEntry: bytes and status', () => {
  it.each([
    ['a PUT whose bytes sent is "-": the object size', 'REST.PUT.OBJECT', 0, 5120, 5120],
    ['a POST whose bytes sent is "-": the object size', 'REST.POST.UPLOAD', 0, 5120, 5120],
    ['a PUT that sent bytes (an error body): the bytes sent', 'REST.PUT.OBJECT', 243, 5120, 243],
    ['a GET that sent nothing: no bytes, whatever the object size', 'REST.GET.OBJECT', 0, 5120, 0],
    ['a GET: the bytes sent', 'REST.GET.OBJECT', 512, 5120, 512],
  ])('counts for %s', (_name, operation, bytesSent, objectSize, bytes) => {
    expect(accessFromLogEntry(plainEntry({ operation, bytesSent, objectSize })).bytes).toBe(bytes);
  });

  it('gives no bytes to a write of unknown size, and no status to a line without one', () => {
    const record = accessFromLogEntry(
      plainEntry({
        operation: 'REST.PUT.OBJECT',
        bytesSent: 0,
        objectSize: undefined,
        httpStatus: undefined,
      }),
    );

    expect(record).not.toHaveProperty('bytes');
    expect(record).not.toHaveProperty('status');
  });
});

describe('isAccessDenied', () => {
  const record = (overrides: Partial<AccessRecord>): AccessRecord => ({
    ...accessFromLogEntry(entry()),
    ...overrides,
  });

  it.each([
    ['a 403', { status: 403 }, true],
    ['an AccessDenied error code without a status', { status: undefined, errorCode: 'AccessDenied' }, true],
    ['a 200', { status: 200 }, false],
    ['a 404 NoSuchKey', { status: 404, errorCode: 'NoSuchKey' }, false],
  ])('judges %s denied: %s', (_name, overrides, denied) => {
    expect(isAccessDenied(record(overrides))).toBe(denied);
  });
});

describe('workerSessionInstance', () => {
  const role = 'worker-fleet-dev-worker';

  it.each([
    [
      'arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0',
      'i-0123456789abcdef0',
    ],
    ['arn:aws-cn:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-01234567', 'i-01234567'],
    ['arn:aws:sts::123456789012:assumed-role/other-role/i-0123456789abcdef0', undefined],
    ['arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/alice', undefined],
    ['arn:aws:iam::123456789012:user/worker-fleet-dev-worker', undefined],
    ['5e1c0ffee5e1c0ffee', undefined],
    [':assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0', undefined],
    ['arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/xi-0123456789abcdef0', undefined],
    ['arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0x', undefined],
    // An instance id where a worker session's would stand, in a principal without the role.
    ['arn:aws:iam::123456789012:user/abcde/i-0123456789abcdef0', undefined],
    ['', undefined],
    // Another account's role of the same name, whatever it names its sessions, is not ours.
    ['arn:aws:sts::210987654321:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0', undefined],
    ['arn:aws:sts::1234567890123:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0', undefined],
    ['arn:aws:sts::x123456789012:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0', undefined],
    ['arn:aws-us-gov:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-01234567', 'i-01234567'],
    ['arn:awsx:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-01234567', undefined],
    ['arn:aws-:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-01234567', undefined],
    ['xarn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-01234567', undefined],
    ['arn:aws-CN:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-01234567', undefined],
  ])('reads %j as instance %j', (principal, instanceId) => {
    expect(workerSessionInstance(principal, role, '123456789012')).toBe(instanceId);
  });
});

describe('accountOf', () => {
  it.each([
    ['arn:aws:sns:us-east-1:123456789012:worker-fleet-dev-fleet', '123456789012'],
    ['arn:aws:s3:::bucket', ''],
    ['not-an-arn', ''],
  ])('reads the account of %j as %j', (arn, account) => {
    expect(accountOf(arn)).toBe(account);
  });
});
