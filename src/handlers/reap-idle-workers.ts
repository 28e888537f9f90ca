import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { CallCounter, countCalls } from '../aws/call-counter';
import { CLIENT_DEFAULTS, lazy } from '../aws/clients';
import { loadConfig } from '../config';
import { parseReapTrigger } from '../events';
import { type FleetReapResult, reapIdleWorkers } from '../fleet/reap-idle-workers';
import { logger } from '../logger';

const dependencies = lazy(() => {
  const calls = new CallCounter();
  return {
    config: loadConfig(),
    ec2: countCalls(new EC2Client(CLIENT_DEFAULTS), calls),
    s3: countCalls(new S3Client(CLIENT_DEFAULTS), calls),
    cloudwatch: countCalls(new CloudWatchClient(CLIENT_DEFAULTS), calls),
    sns: countCalls(new SNSClient(CLIENT_DEFAULTS), calls),
    logger,
    now: () => new Date(),
    calls,
  };
});

/** Marks, then terminates, idle workers. Samples: events/launch-schedule.json (schedule), events/reap-direct.json. */
export async function handler(event: unknown, context: Context): Promise<FleetReapResult[]> {
  logger.addContext(context);
  logger.debug('reap trigger received', { event });
  return reapIdleWorkers(dependencies(), parseReapTrigger(event));
}
