import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { createClients } from '../aws/clients';
import { createFleetConfigReader } from '../aws/fleet-config-store';
import { createFleetStateTable } from '../aws/fleet-state-table';
import { loadSettings, withFleets } from '../config';
import { parseLaunchTrigger } from '../events/launch';
import { type FleetLaunchResult, launchWorkers } from '../fleet/launch-workers';
import { logger } from '../logger';
import { PowertoolsMetricsSink } from '../metrics';

/** Built once per container, at init: the settings, the clients, the fleets' reader and the metrics the launcher uses. */
const clients = createClients({
  ec2: EC2Client,
  ssm: SSMClient,
  sns: SNSClient,
  s3: S3Client,
  events: EventBridgeClient,
  dynamodb: DynamoDBClient,
});
const settings = loadSettings();
const state = createFleetStateTable(clients.dynamodb, settings.stateTable);
const fleetConfig = createFleetConfigReader({ s3: clients.s3, bucket: settings.stateBucket, logger });
const metrics = new PowertoolsMetricsSink(settings.managedBy);

/**
 * Launches workers on a schedule, a "Launch Workers Requested" event, or a direct invocation.
 * Samples: events/launch-schedule.json, events/launch-requested.json, events/launch-direct.json.
 */
export async function handler(event: unknown, context: Context): Promise<FleetLaunchResult[]> {
  logger.addContext(context);
  logger.debug('launch trigger received', { event });
  try {
    const trigger = parseLaunchTrigger(event, context.awsRequestId);
    const config = withFleets(settings, await fleetConfig.fleets());
    return await launchWorkers(
      {
        ...clients,
        state,
        config,
        logger,
        metrics,
        now: () => new Date(),
        remainingMs: () => context.getRemainingTimeInMillis(),
      },
      trigger,
    );
  } finally {
    metrics.flush();
  }
}
