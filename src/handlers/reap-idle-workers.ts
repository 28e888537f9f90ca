import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { CallCounter } from '../aws/call-counter';
import { createClients } from '../aws/clients';
import { createFleetConfigReader } from '../aws/fleet-config-store';
import { createFleetStateTable } from '../aws/fleet-state-table';
import { loadSettings, withFleets } from '../config';
import { assertNever } from '../events/parse';
import { parseReaperInvocation } from '../events/reap';
import { type DrainResult, drainWorker } from '../fleet/drain-worker';
import { type FleetReapResult, reapIdleWorkers } from '../fleet/reap-idle-workers';
import { logger } from '../logger';
import { PowertoolsMetricsSink } from '../metrics';
import { NO_FLEET } from '../model/fleet-metrics';

const calls = new CallCounter();
/** Built once per container, at init: the settings, the fleets' reader, the clients (their calls counted), metrics. */
const clients = createClients(
  {
    ec2: EC2Client,
    s3: S3Client,
    cloudwatch: CloudWatchClient,
    sns: SNSClient,
    events: EventBridgeClient,
    dynamodb: DynamoDBClient,
  },
  {},
  calls,
);
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
 * Marks idle workers, and carries retirements on (replaced first, drained, terminated); or drains one worker for an operator (`worker-fleet drain`), so that every
 * change to a fleet is made by a function, never by the operator's own credentials. Samples:
 * events/launch-schedule.json (schedule), events/reap-direct.json, events/drain-direct.json.
 */
export async function handler(event: unknown, context: Context): Promise<FleetReapResult[] | DrainResult> {
  logger.addContext(context);
  logger.debug('reap trigger received', { event });
  try {
    const invocation = parseReaperInvocation(event);
    const config = withFleets(settings, await fleetConfig.fleets());
    const deps = { ...clients, state, config, logger, metrics, now: () => new Date(), calls };
    switch (invocation.kind) {
      case 'reap':
        return await reapIdleWorkers(deps, invocation.request);
      case 'drain':
        return await drainWorker(deps, invocation.drain.instanceId, invocation.drain);
      default:
        return assertNever(invocation);
    }
  } finally {
    metrics.flush();
  }
}
