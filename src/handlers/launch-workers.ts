import type { Context } from 'aws-lambda';
import { parseLaunchTrigger } from '../events/launch';
import type { FleetLaunchResult } from '../fleet/launch-workers';
import { logger } from '../logger';
import { lazy } from '../model/lazy';

/** The core and its clients, loaded at the first event (see deferred/launch-workers.ts). */
const core = lazy(() => import('./deferred/launch-workers'));

/**
 * Launches workers on a schedule, a "Launch Workers Requested" event, or a direct invocation.
 * Samples: events/launch-schedule.json, events/launch-requested.json, events/launch-direct.json.
 */
export async function handler(event: unknown, context: Context): Promise<FleetLaunchResult[]> {
  logger.addContext(context);
  logger.debug('launch trigger received', { event });
  const trigger = parseLaunchTrigger(event, context.awsRequestId);
  const { launchWorkers, dependencies } = await core();
  return launchWorkers(dependencies(), trigger);
}
