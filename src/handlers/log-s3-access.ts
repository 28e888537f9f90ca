import type { Context } from 'aws-lambda';
import type { AccessRunResult } from '../access/log-s3-access';
import { logger } from '../logger';
import { lazy } from '../model/lazy';

/** The core and its clients, loaded at the first event (see deferred/log-s3-access.ts). */
const core = lazy(() => import('./deferred/log-s3-access'));

/**
 * Logs the fleet bucket's accesses, attributed to workers. Samples: events/s3-object-created.json,
 * events/s3-access-log-delivered.json, events/s3-cloudtrail-get-object.json.
 */
export async function handler(event: unknown, context: Context): Promise<AccessRunResult> {
  logger.addContext(context);
  logger.debug('access event received', { event });
  const { logS3Access, dependencies } = await core();
  const result = await logS3Access(dependencies(), event);
  logger.info('access input done', { ...result });
  return result;
}
