/**
 * The events the sandbox puts on the bus or hands to a handler, built from the real-shaped samples in `events/` and
 * made about this run's buckets, roles and instances.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workerSession } from './access-log';
import type { BusEvent, Delivery } from './event-router';

const ROOT = join(__dirname, '..');

/** The emulator's account: the one its ARNs name. */
export const ACCOUNT_ID = '123456789012';

const sample = (name: string) => JSON.parse(readFileSync(join(ROOT, 'events', `${name}.json`), 'utf8'));

/** One PutObject a worker made to the fleet bucket, as CloudTrail's data event delivers it through EventBridge. */
export function cloudTrailPutObject(bucket: string, role: string, instanceId: string, key: string): BusEvent {
  const template = sample('s3-cloudtrail-get-object');
  const now = new Date();
  const detail = template.detail;
  detail.userIdentity.principalId = `AROA3EXAMPLEWORKERROLE:${instanceId}`;
  detail.userIdentity.arn = workerSession(role, instanceId, ACCOUNT_ID);
  detail.userIdentity.sessionContext.sessionIssuer.arn = `arn:aws:iam::${ACCOUNT_ID}:role/${role}`;
  detail.userIdentity.sessionContext.sessionIssuer.userName = role;
  detail.eventTime = now.toISOString().replace(/\.\d+Z$/, 'Z');
  detail.eventName = 'PutObject';
  detail.readOnly = false;
  detail.requestParameters = { bucketName: bucket, Host: `${bucket}.s3.us-east-1.amazonaws.com`, key };
  detail.additionalEventData.bytesTransferredIn = 1024;
  detail.additionalEventData.bytesTransferredOut = 0;
  detail.requestID = randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase();
  detail.eventID = randomUUID();
  detail.resources = [
    { type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${bucket}/${key}` },
    { accountId: ACCOUNT_ID, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${bucket}` },
  ];
  return { source: template.source, 'detail-type': template['detail-type'], detail, time: now };
}

/** An EC2 sample event (events/<name>.json), about one of this run's instances. */
export function instanceEvent(name: string, instanceId: string): BusEvent {
  const template = sample(name);
  return {
    source: template.source,
    'detail-type': template['detail-type'],
    resources: [`arn:aws:ec2:us-east-1:${ACCOUNT_ID}:instance/${instanceId}`],
    detail: { ...template.detail, 'instance-id': instanceId },
  };
}

/** A scheduled event as the deployed schedule rule would send it (the emulator never fires schedules). */
export function scheduledEvent(ruleArn: string): Delivery['event'] {
  return {
    ...sample('launch-schedule'),
    id: randomUUID(),
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    resources: [ruleArn],
  };
}
