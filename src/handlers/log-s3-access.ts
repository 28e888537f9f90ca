import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { type AccessRunResult, logS3Access } from '../access/log-s3-access';
import { CLIENT_DEFAULTS, lazy } from '../aws/clients';
import { loadConfig } from '../config';
import { logger } from '../logger';

const dependencies = lazy(() => ({
  config: loadConfig(),
  ec2: new EC2Client(CLIENT_DEFAULTS),
  s3: new S3Client(CLIENT_DEFAULTS),
  sns: new SNSClient(CLIENT_DEFAULTS),
  logger,
}));

/**
 * Logs the fleet bucket's accesses, attributed to workers. Samples: events/s3-object-created.json,
 * events/s3-access-log-delivered.json, events/s3-cloudtrail-get-object.json.
 */
export async function handler(event: unknown, context: Context): Promise<AccessRunResult> {
  logger.addContext(context);
  logger.debug('access event received', { event });
  const result = await logS3Access(dependencies(), event);
  logger.info('access input done', { ...result });
  return result;
}
