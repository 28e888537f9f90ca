import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { WorkerLookups } from '../access/attribution';
import { type AccessRunResult, logS3Access } from '../access/log-s3-access';
import { createClients } from '../aws/clients';
import { loadSettings, withFleets } from '../config';
import { logger } from '../logger';
import { PowertoolsMetricsSink } from '../metrics';

// Access records need the deployment's tag, buckets and worker role, never a fleet's spec.
const config = withFleets(loadSettings(), {});
/** Built once per container, at init: the configuration, the clients and the metrics the access logger uses. */
const dependencies = {
  ...createClients({ ec2: EC2Client, s3: S3Client, sns: SNSClient, events: EventBridgeClient }),
  config,
  logger,
  metrics: new PowertoolsMetricsSink(config.managedBy),
  // Kept for the container's life: a worker writing fast is looked up once a minute, not once per object.
  lookups: new WorkerLookups(),
};

/**
 * Logs the fleet bucket's accesses, attributed to workers. Samples: events/s3-object-created.json,
 * events/s3-access-log-delivered.json, events/s3-cloudtrail-get-object.json.
 */
export async function handler(event: unknown, context: Context): Promise<AccessRunResult> {
  logger.addContext(context);
  logger.debug('access event received', { event });
  try {
    const result = await logS3Access(dependencies, event);
    logger.info('access input done', { ...result });
    return result;
  } finally {
    dependencies.metrics.flush();
  }
}
