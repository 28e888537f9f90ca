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
import { parseLauncherInvocation } from '../events/launch';
import { assertNever } from '../events/parse';
import { type FleetLaunchResult, launchWorkers } from '../fleet/launch-workers';
import { type HealthEventResult, recordHealthEvent } from '../fleet/scheduled-changes';
import { logger } from '../logger';
import { PowertoolsMetricsSink } from '../metrics';
import { NO_FLEET } from '../model/fleet-metrics';

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
// A container without a readable configuration fails every event, counted: the alarm says so within a minute.
const fleetConfig = createFleetConfigReader({
  s3: clients.s3,
  bucket: settings.stateBucket,
  logger,
  onUnreadable: () => metrics.add('ConfigurationUnreadable', 1, { fleet: NO_FLEET }),
});
const metrics = new PowertoolsMetricsSink(settings.managedBy);

/**
 * Launches workers on a schedule, a "Launch Workers Requested" event, or a direct invocation; records the workers an
 * AWS Health scheduled change names (docs/scheduled-changes.md). Samples: events/launch-schedule.json,
 * events/launch-requested.json, events/launch-direct.json, events/health-scheduled-change.json.
 */
export async function handler(
  event: unknown,
  context: Context,
): Promise<FleetLaunchResult[] | HealthEventResult> {
  logger.addContext(context);
  logger.debug('launch trigger received', { event });
  try {
    const invocation = parseLauncherInvocation(event, context.awsRequestId);
    const config = withFleets(settings, await fleetConfig.fleets());
    const deps = {
      ...clients,
      state,
      config,
      logger,
      metrics,
      now: () => new Date(),
      remainingMs: () => context.getRemainingTimeInMillis(),
      currentSpec: async (fleet: string) => (await fleetConfig.fleetsNow())[fleet],
    };
    switch (invocation.kind) {
      case 'launch':
        return await launchWorkers(deps, invocation.trigger);
      case 'scheduled-change':
        return await recordHealthEvent(deps, invocation.change);
      default:
        return assertNever(invocation);
    }
  } finally {
    metrics.flush();
  }
}
