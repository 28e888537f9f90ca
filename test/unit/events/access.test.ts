import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidEventError } from '../../../src/errors';
import { parseAccessEvent } from '../../../src/events/access';

// biome-ignore lint/suspicious/noExplicitAny: the tests edit sample events freely
const sample = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(join(__dirname, '../../../events', name), 'utf8'));
type Sample = ReturnType<typeof sample>;

describe('parseAccessEvent', () => {
  it('reads an object written to the fleet bucket as one successful access', () => {
    expect(parseAccessEvent(sample('s3-object-created.json'))).toStrictEqual({
      kind: 'object-event',
      id: '17793124-05d4-b198-2fde-7ededc63b103',
      created: true,
      record: {
        time: '2026-11-25T09:12:00.000Z',
        bucket: 'worker-fleet-dev-fleetbucket-1a2b3c4d5e6f',
        key: 'results/batch/2026-11-25/part-0001.json',
        operation: 'PutObject',
        status: 200,
        bytes: 5242880,
        principal: '123456789012',
        sourceIp: '10.0.1.25',
        requestId: 'N4N7GDK58NMKJ12R',
        source: 'event',
      },
    });
  });

  it('reads a deletion without a size, and accepts the epoch-seconds time the emulator sends', () => {
    const event = sample('s3-object-created.json');
    event['detail-type'] = 'Object Deleted';
    event.time = 1795597920;
    event.detail.reason = 'DeleteObject';
    delete event.detail.object.size;

    expect(parseAccessEvent(event)).toMatchObject({
      created: false,
      record: { operation: 'DeleteObject', time: '2026-11-25T09:12:00.000Z' },
    });
    expect(parseAccessEvent(event).record).not.toHaveProperty('bytes');
  });

  it.each([
    ['Object Created', 'POST Object', 'PostObject'],
    ['Object Deleted', 'Lifecycle Expiration', 'LifecycleExpiration'],
    ['Object Created', 'ObjectCreated', 'PutObject'],
    ['Object Deleted', 'ObjectRemoved', 'DeleteObject'],
    ['Object Created', 'CopyObject', 'CopyObject'],
    ['Object Created', undefined, 'PutObject'],
    ['Object Deleted', undefined, 'DeleteObject'],
    ['Object Deleted', '', 'DeleteObject'],
  ])('names the operation of an "%s" event whose reason is %j: %s', (detailType, reason, operation) => {
    const event = sample('s3-object-created.json');
    event['detail-type'] = detailType;
    if (reason === undefined) delete event.detail.reason;
    else event.detail.reason = reason;

    expect(parseAccessEvent(event).record.operation).toBe(operation);
  });

  it('gives an object written without a size no bytes, and a deletion none even when it carries a size', () => {
    const written = sample('s3-object-created.json');
    delete written.detail.object.size;
    const deleted = sample('s3-object-created.json');
    deleted['detail-type'] = 'Object Deleted';

    expect(parseAccessEvent(written).record).not.toHaveProperty('bytes');
    expect(parseAccessEvent(deleted).record).not.toHaveProperty('bytes');
  });

  it('reads an object event without requester, address or request id as empty ones', () => {
    const event = sample('s3-object-created.json');
    delete event.detail.requester;
    delete event.detail['source-ip-address'];
    delete event.detail['request-id'];

    expect(parseAccessEvent(event).record).toMatchObject({ principal: '', sourceIp: '', requestId: '' });
  });

  it.each([
    ['s3-object-created.json', (event: Sample, time: string) => (event.time = time)],
    ['s3-cloudtrail-get-object.json', (event: Sample, time: string) => (event.detail.eventTime = time)],
  ])(
    'reads the time of %s, with an offset or Z, as the same instant in UTC with milliseconds',
    (name, setTime) => {
      const offset = sample(name);
      setTime(offset, '2026-11-25T10:12:00.5+01:00');
      const utc = sample(name);
      setTime(utc, '2026-11-25T09:12:00Z');

      expect(parseAccessEvent(offset).record.time).toBe('2026-11-25T09:12:00.500Z');
      expect(parseAccessEvent(utc).record.time).toBe('2026-11-25T09:12:00.000Z');
    },
  );

  it("reads a CloudTrail data event with the caller's session, bytes and credential delivery", () => {
    expect(parseAccessEvent(sample('s3-cloudtrail-get-object.json'))).toStrictEqual({
      kind: 'trail',
      id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
      record: {
        time: '2026-11-25T09:15:30.000Z',
        bucket: 'worker-fleet-dev-fleetbucket-1a2b3c4d5e6f',
        key: 'inputs/batch/2026-11-25/chunk-0042.csv',
        operation: 'GetObject',
        status: 200,
        bytes: 1048576,
        principal: 'arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-1234567890abcdef0',
        sourceIp: '10.0.1.25',
        requestId: '8E2C5F1A9B3D7E40',
        source: 'trail',
        credentialDelivery: '2.0',
      },
    });
  });

  it('gives a refused CloudTrail request its status and error code', () => {
    const event = sample('s3-cloudtrail-get-object.json');
    event.detail.errorCode = 'AccessDenied';
    delete event.detail.additionalEventData;

    expect(parseAccessEvent(event).record).toMatchObject({ status: 403, errorCode: 'AccessDenied' });
    expect(parseAccessEvent(event).record).not.toHaveProperty('bytes');
  });

  it('counts the bytes a CloudTrail request sent in as well as those it got out', () => {
    const event = sample('s3-cloudtrail-get-object.json');
    event.detail.eventName = 'PutObject';
    event.detail.additionalEventData = { bytesTransferredIn: 2048, bytesTransferredOut: 10 };

    expect(parseAccessEvent(event).record).toMatchObject({ operation: 'PutObject', bytes: 2058 });
  });

  it('reads a CloudTrail request of a caller without a session, principal or arn, on no key, as empty ones', () => {
    const event = sample('s3-cloudtrail-get-object.json');
    event.detail.userIdentity = {};
    delete event.detail.requestParameters.key;
    delete event.detail.sourceIPAddress;
    delete event.detail.requestID;

    expect(parseAccessEvent(event).record).toMatchObject({
      key: '',
      principal: '',
      sourceIp: '',
      requestId: '',
    });
    expect(parseAccessEvent(event).record).not.toHaveProperty('credentialDelivery');
  });

  it('names the caller by its principal id when CloudTrail gives no arn', () => {
    const event = sample('s3-cloudtrail-get-object.json');
    delete event.detail.userIdentity.arn;

    expect(parseAccessEvent(event).record.principal).toBe('AROA3EXAMPLEWORKERROLE:i-1234567890abcdef0');
  });

  it('gives a refused CloudTrail request whose error has no one status its error code and no status', () => {
    const event = sample('s3-cloudtrail-get-object.json');
    event.detail.errorCode = 'SlowDown';

    expect(parseAccessEvent(event).record).toMatchObject({ errorCode: 'SlowDown' });
    expect(parseAccessEvent(event).record).not.toHaveProperty('status');
  });

  it.each([
    ['s3-object-created.json', 'malformed "Object Created" event: '],
    ['s3-cloudtrail-get-object.json', 'malformed CloudTrail data event: '],
  ])('rejects a malformed event of %s, saying which kind it was', (name, message) => {
    const event = sample(name);
    event.id = '';

    expect(() => parseAccessEvent(event)).toThrow(message);
  });

  it.each([
    ['an object event without a bucket', { detail: { object: { key: 'k' } } }, 'detail.bucket'],
    ['a trail event of another service', { detail: { eventSource: 'ec2.amazonaws.com' } }, 'eventSource'],
  ])('rejects %s, naming the field', (_, change, field) => {
    const base = sample(field === 'eventSource' ? 's3-cloudtrail-get-object.json' : 's3-object-created.json');
    const event = { ...base, detail: { ...base.detail, ...change.detail } };
    if (field === 'detail.bucket') delete event.detail.bucket;

    expect(() => parseAccessEvent(event)).toThrow(InvalidEventError);
    expect(() => parseAccessEvent(event)).toThrow(field);
  });

  it('rejects an event it does not handle, with its detail-type', () => {
    expect(() => parseAccessEvent({ 'detail-type': 'Object Restore Completed' })).toThrow(
      'unsupported detail-type "Object Restore Completed" for S3 access',
    );
    expect(() => parseAccessEvent('text')).toThrow(InvalidEventError);
  });
});
