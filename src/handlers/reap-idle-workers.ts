import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { CallCounter } from '../aws/call-counter';
import { createClients } from '../aws/clients';
import { loadConfig } from '../config';
import { parseReapRequest } from '../events/reap';
import { type FleetReapResult, reapIdleWorkers } from '../fleet/reap-idle-workers';
import { logger } from '../logger';
import { PowertoolsMetricsSink } from '../metrics';

const calls = new CallCounter();
const config = loadConfig();
/** Built once per container, at init: the configuration, the clients (their calls counted) and the metrics. */
const dependencies = {
  ...createClients(
    { ec2: EC2Client, s3: S3Client, cloudwatch: CloudWatchClient, sns: SNSClient, events: EventBridgeClient },
    {},
    calls,
  ),
  config,
  logger,
  metrics: new PowertoolsMetricsSink(config.managedBy),
  now: () => new Date(),
  calls,
};

/** Marks, then terminates, idle workers. Samples: events/launch-schedule.json (schedule), events/reap-direct.json. */
export async function handler(event: unknown, context: Context): Promise<FleetReapResult[]> {
  logger.addContext(context);
  logger.debug('reap trigger received', { event });
  try {
    return await reapIdleWorkers(dependencies, parseReapRequest(event));
  } finally {
    dependencies.metrics.flush();
  }
}
