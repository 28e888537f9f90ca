import * as z from 'zod';
import { fleetName, parseShape, scheduledEventSchema } from './parse';

/** What a reaper run is asked to do, from its schedule, a direct invocation or the CLI. */
export interface ReapRequest {
  /** One fleet, or every fleet when absent. */
  readonly fleet?: string;
  /** Overrides the deployment's dry-run switch for this run when given. */
  readonly dryRun?: boolean;
  /** Only carry retirements on (the retire schedule); idle workers are judged by the reap schedule's runs. */
  readonly retireOnly?: boolean;
}

/**
 * Sample: events/reap-direct.json. A schedule sends events/launch-schedule.json's shape (an EventBridge rule) or
 * events/scheduler-schedule.json's (an EventBridge Scheduler schedule without an Input).
 */
const reapDirectSchema = z.strictObject({
  fleet: fleetName().optional(),
  dryRun: z.boolean().optional(),
  retireOnly: z.boolean().optional(),
});

/** An operator's drain of one worker (`worker-fleet drain`), which the reaper's function runs. */
export interface DrainRequest {
  readonly instanceId: string;
  /** Terminate at once, without the graceful path. */
  readonly now: boolean;
  /** Lower the fleet's size by one: the worker is neither replaced first nor refilled. */
  readonly shrink: boolean;
  /** Say what would be done; change nothing. */
  readonly dryRun: boolean;
}

/** What one invocation of the reaper's function is asked: a reaper run, or one worker drained. */
export type ReaperInvocation =
  | { readonly kind: 'reap'; readonly request: ReapRequest }
  | { readonly kind: 'drain'; readonly drain: DrainRequest };

/** Sample: events/drain-direct.json. */
const drainDirectSchema = z.strictObject({
  drain: z.string().regex(/^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'must be an instance id (i-…)'),
  now: z.boolean().optional(),
  shrink: z.boolean().optional(),
  dryRun: z.boolean().optional(),
});

/** Narrows what the reaper's function is invoked with: a drain (`{ "drain": "<instance-id>" }`), or a reap trigger. */
export function parseReaperInvocation(event: unknown): ReaperInvocation {
  if (typeof event === 'object' && event !== null && 'drain' in event) {
    const {
      drain,
      now = false,
      shrink = false,
      dryRun = false,
    } = parseShape(drainDirectSchema, event, 'drain request');
    return { kind: 'drain', drain: { instanceId: drain, now, shrink, dryRun } };
  }
  return { kind: 'reap', request: parseReapRequest(event) };
}

/** Narrows a reaper trigger: its schedule (every fleet) or a direct invocation naming a fleet and dry run. */
export function parseReapRequest(event: unknown): ReapRequest {
  if (typeof event === 'object' && event !== null && 'detail-type' in event) {
    parseShape(scheduledEventSchema, event, 'scheduled event');
    return {};
  }
  return parseShape(reapDirectSchema, event, 'reap request');
}
