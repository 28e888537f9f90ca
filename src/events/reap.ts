import * as z from 'zod';
import { fleetName, parseShape, scheduledEventSchema } from './parse';

/** What a reaper run is asked to do, from its schedule, a direct invocation or the CLI. */
export interface ReapRequest {
  /** One fleet, or every fleet when absent. */
  readonly fleet?: string;
  /** Overrides the deployment's dry-run switch for this run when given. */
  readonly dryRun?: boolean;
}

/**
 * Sample: events/reap-direct.json. A schedule sends events/launch-schedule.json's shape (an EventBridge rule) or
 * events/scheduler-schedule.json's (an EventBridge Scheduler schedule without an Input).
 */
const reapDirectSchema = z.strictObject({ fleet: fleetName().optional(), dryRun: z.boolean().optional() });

/** Narrows a reaper trigger: its schedule (every fleet) or a direct invocation naming a fleet and dry run. */
export function parseReapRequest(event: unknown): ReapRequest {
  if (typeof event === 'object' && event !== null && 'detail-type' in event) {
    parseShape(scheduledEventSchema, event, 'scheduled event');
    return {};
  }
  return parseShape(reapDirectSchema, event, 'reap request');
}
