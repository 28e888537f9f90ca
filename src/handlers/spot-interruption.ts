import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { CLIENT_DEFAULTS } from '../aws/clients';
import { loadConfig } from '../config';
import { parseInstanceEvent } from '../events/instance';
import { noticeSpotWarning } from '../fleet/interruption-notice';
import type { InterruptionResult } from '../fleet/spot-interruption';
import { logger } from '../logger';
import { lazy } from '../model/lazy';

/** What a spot warning's first step needs, loaded with the handler: S3, SNS and the configuration. */
const noticeDependencies = lazy(() => ({
  config: loadConfig(),
  s3: new S3Client(CLIENT_DEFAULTS),
  sns: new SNSClient(CLIENT_DEFAULTS),
  logger,
  now: () => new Date(),
}));
/** The rest, EC2 above all, loaded once the first step is done (see deferred/spot-interruption.ts). */
const core = lazy(() => import('./deferred/spot-interruption'));

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
    // A warning's notification comes first. Loading the EC2 chunk runs on this same thread (parsing and
    // evaluating it is synchronous), so it starts once the notice is done, not beside it (bench/results.md).
    const notice =
      instanceEvent.kind === 'spot-warning'
        ? noticeSpotWarning(noticeDependencies(), instanceEvent)
        : undefined;
    // handleInstanceEvent takes the outcome, failure included: waiting here must not count it as unhandled.
    await notice?.catch(() => undefined);
    const { handleInstanceEvent, dependencies } = await core();
    return await handleInstanceEvent({ ...noticeDependencies(), ...dependencies() }, instanceEvent, notice);
  } finally {
    logger.removeKeys(['instanceId', 'eventId']);
  }
}
