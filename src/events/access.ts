import * as z from 'zod';
import { InvalidEventError } from '../errors';
import type { AccessRecord } from '../model/access-record';
import { detailTypeOf, parseShape } from './parse';

export const OBJECT_CREATED = 'Object Created';
export const OBJECT_DELETED = 'Object Deleted';
export const CLOUDTRAIL_API_CALL = 'AWS API Call via CloudTrail';

/** The events logS3Access is given, narrowed: an object written or deleted, or a CloudTrail data event. */
export type AccessEvent =
  | {
      readonly kind: 'object-event';
      readonly id: string;
      /** Written (created) or deleted. */
      readonly created: boolean;
      readonly record: AccessRecord;
    }
  | { readonly kind: 'trail'; readonly id: string; readonly record: AccessRecord };

/** ISO text with an offset or Z, read as the same instant in UTC with milliseconds, as the access logs give it. */
const isoTime = () => z.iso.datetime({ offset: true }).transform((text) => new Date(text).toISOString());

/**
 * When: ISO text, as EventBridge documents it; epoch seconds are accepted too, as the local emulator sends them.
 * Every access record's time has one form: the alerts compare them as text.
 */
const eventTime = () =>
  z.union([
    isoTime(),
    z
      .number()
      .positive()
      .transform((seconds) => new Date(seconds * 1000).toISOString()),
  ]);

/** Sample: events/s3-object-created.json (EventBridge notifications of the fleet and log buckets). */
const objectEventShape = () =>
  z.object({
    'detail-type': z.enum([OBJECT_CREATED, OBJECT_DELETED]),
    source: z.literal('aws.s3'),
    id: z.string().min(1),
    time: eventTime(),
    detail: z.object({
      bucket: z.object({ name: z.string().min(1) }),
      object: z.object({ key: z.string().min(1), size: z.number().int().nonnegative().optional() }),
      'request-id': z.string().optional(),
      requester: z.string().optional(),
      'source-ip-address': z.string().optional(),
      reason: z.string().optional(),
    }),
  });

/** Sample: events/s3-cloudtrail-get-object.json (a CloudTrail data event, when the stage's trail is on). */
const trailEventShape = () =>
  z.object({
    'detail-type': z.literal(CLOUDTRAIL_API_CALL),
    source: z.literal('aws.s3'),
    id: z.string().min(1),
    detail: z.object({
      eventTime: isoTime(),
      eventSource: z.literal('s3.amazonaws.com'),
      eventName: z.string().min(1),
      sourceIPAddress: z.string().optional(),
      requestID: z.string().optional(),
      errorCode: z.string().optional(),
      userIdentity: z.object({
        arn: z.string().optional(),
        principalId: z.string().optional(),
        sessionContext: z.object({ ec2RoleDelivery: z.string().optional() }).optional(),
      }),
      requestParameters: z.object({ bucketName: z.string().min(1), key: z.string().optional() }),
      additionalEventData: z
        .object({
          bytesTransferredIn: z.number().nonnegative().optional(),
          bytesTransferredOut: z.number().nonnegative().optional(),
        })
        .optional(),
    }),
  });

const objectEventSchema = objectEventShape();
const trailEventSchema = trailEventShape();

/** What S3 says caused an object event, as the API action; the emulator says `ObjectCreated`/`ObjectRemoved`. */
const EVENT_REASONS: Readonly<Record<string, string>> = {
  'POST Object': 'PostObject',
  'Lifecycle Expiration': 'LifecycleExpiration',
  ObjectCreated: 'PutObject',
  ObjectRemoved: 'DeleteObject',
};

/** CloudTrail error codes that have one HTTP status. */
const ERROR_STATUS: Readonly<Record<string, number>> = {
  AccessDenied: 403,
  NoSuchKey: 404,
  NoSuchBucket: 404,
};

function objectAccess(event: z.output<ReturnType<typeof objectEventShape>>): AccessRecord {
  const { detail } = event;
  const created = event['detail-type'] === OBJECT_CREATED;
  const reason = detail.reason ?? '';
  return {
    time: event.time,
    bucket: detail.bucket.name,
    key: detail.object.key,
    operation: EVENT_REASONS[reason] ?? (reason || (created ? 'PutObject' : 'DeleteObject')),
    status: 200,
    ...(created && detail.object.size !== undefined ? { bytes: detail.object.size } : {}),
    principal: detail.requester ?? '',
    sourceIp: detail['source-ip-address'] ?? '',
    requestId: detail['request-id'] ?? '',
    source: 'event',
  };
}

function trailAccess(event: z.output<ReturnType<typeof trailEventShape>>): AccessRecord {
  const { detail } = event;
  // Bytes only when CloudTrail counted them: additionalEventData without either count says nothing about bytes.
  const transferredIn = detail.additionalEventData?.bytesTransferredIn;
  const transferredOut = detail.additionalEventData?.bytesTransferredOut;
  const counted = transferredIn !== undefined || transferredOut !== undefined;
  const delivery = detail.userIdentity.sessionContext?.ec2RoleDelivery;
  const status = detail.errorCode === undefined ? 200 : ERROR_STATUS[detail.errorCode];
  return {
    time: detail.eventTime,
    bucket: detail.requestParameters.bucketName,
    key: detail.requestParameters.key ?? '',
    operation: detail.eventName,
    ...(status === undefined ? {} : { status }),
    ...(detail.errorCode === undefined ? {} : { errorCode: detail.errorCode }),
    ...(counted ? { bytes: (transferredOut ?? 0) + (transferredIn ?? 0) } : {}),
    principal: detail.userIdentity.arn ?? detail.userIdentity.principalId ?? '',
    sourceIp: detail.sourceIPAddress ?? '',
    requestId: detail.requestID ?? '',
    source: 'trail',
    ...(delivery === undefined ? {} : { credentialDelivery: delivery }),
  };
}

/** Narrows an S3 object event or CloudTrail data event by `detail-type`; anything else is rejected with its type. */
export function parseAccessEvent(event: unknown): AccessEvent {
  const detailType = detailTypeOf(event);
  switch (detailType) {
    case OBJECT_CREATED:
    case OBJECT_DELETED: {
      const parsed = parseShape(objectEventSchema, event, `"${detailType}" event`);
      return {
        kind: 'object-event',
        id: parsed.id,
        created: detailType === OBJECT_CREATED,
        record: objectAccess(parsed),
      };
    }
    case CLOUDTRAIL_API_CALL: {
      const parsed = parseShape(trailEventSchema, event, 'CloudTrail data event');
      return { kind: 'trail', id: parsed.id, record: trailAccess(parsed) };
    }
    default:
      throw new InvalidEventError(`unsupported detail-type ${JSON.stringify(detailType)} for S3 access`);
  }
}
