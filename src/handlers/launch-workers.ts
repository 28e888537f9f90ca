import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { createClients } from '../aws/clients';
import { loadConfig } from '../config';
import { parseLaunchTrigger } from '../events/launch';
import { type FleetLaunchResult, launchWorkers } from '../fleet/launch-workers';
import { logger } from '../logger';
import { PowertoolsMetricsSink } from '../metrics';

const config = loadConfig();
/** Built once per container, at init: the configuration, the clients and the metrics the launcher uses. */
const dependencies = {
  ...createClients({
    ec2: EC2Client,
    ssm: SSMClient,
    sns: SNSClient,
    s3: S3Client,
    events: EventBridgeClient,
  }),
  config,
  logger,
  metrics: new PowertoolsMetricsSink(config.managedBy),
  now: () => new Date(),
};

/**
 * Launches workers on a schedule, a "Launch Workers Requested" event, or a direct invocation.
 * Samples: events/launch-schedule.json, events/launch-requested.json, events/launch-direct.json.
 */
export async function handler(event: unknown, context: Context): Promise<FleetLaunchResult[]> {
  logger.addContext(context);
  logger.debug('launch trigger received', { event });
  try {
    return await launchWorkers(dependencies, parseLaunchTrigger(event, context.awsRequestId));
  } finally {
    dependencies.metrics.flush();
  }
}
