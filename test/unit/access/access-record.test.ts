import { accessLogLine } from '../../../local/access-log';
import { accessFromLogEntry, workerSessionInstance } from '../../../src/access/access-record';
import { parseServerAccessLogLine, type ServerAccessLogEntry } from '../../../src/access/server-access-log';

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
      operation: 'GetObject',
      status: 200,
      bytes: 512,
      principal: 'arn:aws:sts::123456789012:assumed-role/worker-fleet-dev-worker/i-0123456789abcdef0',
      sourceIp: '10.0.0.7',
      requestId: 'R1',
      source: 'access-log',
    });
  });

  it('keeps the error code of a refused request, and an operation with no API name as it is', () => {
    expect(
      accessFromLogEntry(entry({ status: 403, errorCode: 'AccessDenied', operation: 'REST.GET.ACL' })),
    ).toMatchObject({ status: 403, errorCode: 'AccessDenied', operation: 'REST.GET.ACL' });
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
    ['', undefined],
  ])('reads %j as instance %j', (principal, instanceId) => {
    expect(workerSessionInstance(principal, role)).toBe(instanceId);
  });
});
