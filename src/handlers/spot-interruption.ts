import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { CLIENT_DEFAULTS, lazy } from '../aws/clients';
import { loadConfig } from '../config';
import { parseInstanceEvent } from '../events';
import { handleInstanceEvent, type InterruptionResult } from '../fleet/spot-interruption';
import { logger } from '../logger';

const dependencies = lazy(() => ({
  config: loadConfig(),
  ec2: new EC2Client(CLIENT_DEFAULTS),
  ssm: new SSMClient(CLIENT_DEFAULTS),
  s3: new S3Client(CLIENT_DEFAULTS),
  sns: new SNSClient(CLIENT_DEFAULTS),
  events: new EventBridgeClient(CLIENT_DEFAULTS),
  logger,
  now: () => new Date(),
}));

/**
 * Spot interruption warnings, rebalance recommendations and state changes of workers.
 * Samples: events/spot-interruption-warning.json, events/rebalance-recommendation.json,
 * events/instance-state-change-terminated.json.
 */
export async function handler(event: unknown, context: Context): Promise<InterruptionResult> {
  logger.addContext(context);
  logger.debug('instance event received', { event });
  const instanceEvent = parseInstanceEvent(event);
  logger.appendKeys({ instanceId: instanceEvent.instanceId, eventId: instanceEvent.id });
  try {
    return await handleInstanceEvent(dependencies(), instanceEvent);
  } finally {
    logger.removeKeys(['instanceId', 'eventId']);
  }
}
