import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAccessEvent } from '../../../src/events/access';

/** The CloudTrail sample with its additionalEventData replaced (or removed, for undefined). */
function trailRecord(additionalEventData: Record<string, unknown> | undefined) {
  const event = JSON.parse(
    readFileSync(join(__dirname, '../../../events/s3-cloudtrail-get-object.json'), 'utf8'),
  ) as { detail: Record<string, unknown> };
  if (additionalEventData === undefined) delete event.detail.additionalEventData;
  else event.detail.additionalEventData = additionalEventData;
  return parseAccessEvent(event).record;
}

describe('CloudTrail bytes', () => {
  it.each([
    ['both counts: their sum', { bytesTransferredIn: 10, bytesTransferredOut: 5 }, 15],
    ['bytes out only', { bytesTransferredOut: 5 }, 5],
    ['bytes in only', { bytesTransferredIn: 10 }, 10],
    ['counts of zero: 0 bytes', { bytesTransferredIn: 0, bytesTransferredOut: 0 }, 0],
  ])('gives a record with %s', (_name, data, bytes) => {
    expect(trailRecord({ SignatureVersion: 'SigV4', ...data })).toHaveProperty('bytes', bytes);
  });

  it.each([
    [
      'additionalEventData without byte counts',
      { SignatureVersion: 'SigV4', CipherSuite: 'TLS_AES_128_GCM_SHA256' },
    ],
    ['no additionalEventData', undefined],
  ])('gives a record with %s no bytes, not 0', (_name, data) => {
    expect(trailRecord(data)).not.toHaveProperty('bytes');
  });
});
