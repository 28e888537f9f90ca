import type { Context } from 'aws-lambda';
import { parseReapRequest } from '../events/reap';
import type { FleetReapResult } from '../fleet/reap-idle-workers';
import { logger } from '../logger';
import { lazy } from '../model/lazy';

/** The core and its clients, loaded at the first event (see deferred/reap-idle-workers.ts). */
const core = lazy(() => import('./deferred/reap-idle-workers'));

/** Marks, then terminates, idle workers. Samples: events/launch-schedule.json (schedule), events/reap-direct.json. */
export async function handler(event: unknown, context: Context): Promise<FleetReapResult[]> {
  logger.addContext(context);
  logger.debug('reap trigger received', { event });
  const request = parseReapRequest(event);
  const { reapIdleWorkers, dependencies } = await core();
  return reapIdleWorkers(dependencies(), request);
}
