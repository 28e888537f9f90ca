import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { createClients } from '../aws/clients';
import { createFleetConfigReader } from '../aws/fleet-config-store';
import { createFleetStateTable } from '../aws/fleet-state-table';
import { loadSettings, withFleets } from '../config';
import { parseInstanceEvent } from '../events/instance';
import { noticeSpotWarning } from '../fleet/interruption-notice';
import type { InterruptionResult } from '../fleet/spot-interruption';
import { logger } from '../logger';

/**
 * What a spot warning's notification needs, built at init: the settings, the fleets' reader (S3), the state table
 * and SNS. Never EC2.
 */
const clients = createClients({ s3: S3Client, sns: SNSClient, dynamodb: DynamoDBClient });
const settings = loadSettings();
const state = createFleetStateTable(clients.dynamodb, settings.stateTable);
const fleetConfig = createFleetConfigReader({ s3: clients.s3, bucket: settings.stateBucket, logger });

/** The second phase (EC2 above all, and the metrics), loaded once per container after the first notification. */
let ec2Phase: Promise<typeof import('./spot-interruption-ec2-phase')> | undefined;
const loadEc2Phase = () => {
  ec2Phase ??= import('./spot-interruption-ec2-phase');
  return ec2Phase;
};
/** Built with the second phase, flushed at the end of every invocation that loaded it. */
let metrics: import('./spot-interruption-ec2-phase').PowertoolsMetricsSink | undefined;

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
    // A container without a readable configuration still notifies and marks a warning; the core fails the rest.
    const read = await fleetConfig.fleets().then(
      (fleets) => ({ fleets }),
      (error: unknown) => ({
        fleets: {},
        configurationError: error instanceof Error ? error : new Error(String(error)),
      }),
    );
    const noticeDependencies = {
      ...clients,
      state,
      config: withFleets(settings, read.fleets),
      ...('configurationError' in read ? { configurationError: read.configurationError } : {}),
      logger,
      now: () => new Date(),
      remainingMs: () => context.getRemainingTimeInMillis(),
      currentSpec: async (fleet: string) => (await fleetConfig.fleetsNow())[fleet],
    };
    // A warning's notification comes first. Loading the EC2 phase runs on this same thread (parsing and
    // evaluating it is synchronous), so it starts once the notice is done, not beside it (bench/results.md).
    const notice =
      instanceEvent.kind === 'spot-warning'
        ? noticeSpotWarning(noticeDependencies, instanceEvent)
        : undefined;
    // handleInstanceEvent takes the outcome, failure included: waiting here must not count it as unhandled.
    await notice?.catch(() => undefined);
    const { handleInstanceEvent, ec2PhaseClients, PowertoolsMetricsSink } = await loadEc2Phase();
    metrics ??= new PowertoolsMetricsSink(noticeDependencies.config.managedBy);
    return await handleInstanceEvent(
      { ...noticeDependencies, ...ec2PhaseClients, metrics },
      instanceEvent,
      notice,
    );
  } finally {
    metrics?.flush();
    logger.removeKeys(['instanceId', 'eventId']);
  }
}
