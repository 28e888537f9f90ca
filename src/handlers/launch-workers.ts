import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { CLIENT_DEFAULTS, lazy } from '../aws/clients';
import { loadConfig } from '../config';
import { parseLaunchTrigger } from '../events';
import { type FleetLaunchResult, launchWorkers } from '../fleet/launch-workers';
import { logger } from '../logger';

const dependencies = lazy(() => ({
  config: loadConfig(),
  ec2: new EC2Client(CLIENT_DEFAULTS),
  ssm: new SSMClient(CLIENT_DEFAULTS),
  sns: new SNSClient(CLIENT_DEFAULTS),
  s3: new S3Client(CLIENT_DEFAULTS),
  logger,
  now: () => new Date(),
}));

/**
 * Launches workers on a schedule, a "Launch Workers Requested" event, or a direct invocation.
 * Samples: events/launch-schedule.json, events/launch-requested.json, events/launch-direct.json.
 */
export async function handler(event: unknown, context: Context): Promise<FleetLaunchResult[]> {
  logger.addContext(context);
  logger.debug('launch trigger received', { event });
  const trigger = parseLaunchTrigger(event, context.awsRequestId);
  return launchWorkers(dependencies(), trigger);
}
