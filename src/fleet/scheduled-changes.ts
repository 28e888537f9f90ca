import type { Logger } from '@aws-lambda-powertools/logger';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { describeWorkers } from '../aws/ec2-workers';
import { listScheduledEvents } from '../aws/instance-status';
import { notify } from '../aws/notification-event';
import type { Config } from '../config';
import type { HealthScheduledChange } from '../events/health';
import type { FleetSpec } from '../model/fleet-spec';
import type { FleetFacts, FleetState, ScheduledChange } from '../model/fleet-state';
import { TAG } from '../model/tags';
import { isOwnedBy, type Worker } from '../model/worker';
import { type DueRetirement, dueRetirements } from './due-retirements';

export interface ScheduledChangeDependencies {
  readonly ec2: EC2Client;
  readonly state: FleetState;
  readonly logger: Logger;
  readonly config: Config;
  readonly now: () => Date;
}

/** What a Health event did: per instance it named, recorded, already known, or ignored (and why). */
export interface HealthEventResult {
  readonly status: 'recorded' | 'other-region';
  readonly eventArn: string;
  readonly recorded: readonly { readonly instanceId: string; readonly fleet: string }[];
  readonly known: readonly string[];
  readonly ignored: readonly { readonly instanceId: string; readonly reason: string }[];
}

/** Why an instance a Health event names is none of this deployment's business, or undefined when it is a worker. */
function ignoredBecause(worker: Worker | undefined, config: Config): string | undefined {
  if (worker === undefined) return 'EC2 does not know it';
  if (!isOwnedBy(worker, config)) return 'not a worker of this deployment';
  if (['shutting-down', 'terminated'].includes(worker.state)) return 'already ended';
  const fleet = worker.tags[TAG.fleet];
  if (fleet === undefined || config.fleets[fleet] === undefined) return 'its fleet is not configured';
  return undefined;
}

/**
 * Records an AWS Health scheduled change for each worker it names, in the worker's fleet, once per event and
 * instance: a redelivery records nothing. Instances not of this deployment (no managed-by tag and worker instance
 * profile), unknown, ended or of an unconfigured fleet are logged and ignored; an event of another region changes
 * nothing. The change is acted on by the graceful retirement path (dueRetirements), which the backstop also feeds.
 */
export async function recordHealthEvent(
  deps: ScheduledChangeDependencies,
  event: HealthScheduledChange,
): Promise<HealthEventResult> {
  const { ec2, state, logger, config, now } = deps;
  const base = { eventArn: event.eventArn, recorded: [], known: [], ignored: [] };
  if (event.region !== undefined && event.region !== config.region) {
    logger.warn('scheduled change of another region, nothing done', {
      eventId: event.id,
      eventArn: event.eventArn,
      region: event.region,
      deployedIn: config.region,
    });
    return { ...base, status: 'other-region' };
  }
  const workers = await describeWorkers(
    ec2,
    event.instances.map((instance) => instance.instanceId),
  );
  const recorded: { instanceId: string; fleet: string }[] = [];
  const known: string[] = [];
  const ignored: { instanceId: string; reason: string }[] = [];
  for (const { instanceId, closed } of event.instances) {
    const worker = workers.get(instanceId);
    const reason = ignoredBecause(worker, config);
    const fleet = worker?.tags[TAG.fleet];
    if (reason !== undefined || fleet === undefined) {
      logger.warn('scheduled change ignored', { eventArn: event.eventArn, instanceId, reason });
      ignored.push({ instanceId, reason: reason ?? 'no fleet' });
      continue;
    }
    const change: ScheduledChange = {
      instanceId,
      source: 'health',
      eventId: event.eventArn,
      code: event.code,
      startsAt: event.startsAt.toISOString(),
      ...(event.description === undefined ? {} : { description: event.description }),
      ...(closed ? { closed } : {}),
      at: now().toISOString(),
    };
    const added = await state.addScheduledChange(fleet, change);
    logger.info(added ? 'scheduled change recorded' : 'scheduled change already known', {
      fleet,
      instanceId,
      eventId: event.id,
      eventArn: event.eventArn,
      code: event.code,
      startsAt: change.startsAt,
      closed,
    });
    if (added) recorded.push({ instanceId, fleet });
    else known.push(instanceId);
  }
  return { status: 'recorded', eventArn: event.eventArn, recorded, known, ignored };
}

/**
 * The backstop, which does not depend on any event: the scheduled events EC2 lists for the fleet's workers, each
 * recorded once; those not seen before are logged (`scheduled change found by the backstop`) and returned. A
 * change a Health event told is recorded under its own event: both are the same worker's, retired once.
 */
export async function recordScheduledEvents(
  deps: Omit<ScheduledChangeDependencies, 'config'>,
  fleet: string,
  workers: readonly Worker[],
  options: {
    /** Record nothing: return the events not among `known` (what a run would record). */
    readonly dryRun?: boolean;
    readonly known?: readonly ScheduledChange[];
  } = {},
): Promise<ScheduledChange[]> {
  const { ec2, state, logger, now } = deps;
  const events = await listScheduledEvents(
    ec2,
    workers.map((worker) => worker.instanceId),
  );
  const known = new Set((options.known ?? []).map((change) => `${change.instanceId} ${change.eventId}`));
  const found: ScheduledChange[] = [];
  for (const event of events) {
    const change: ScheduledChange = {
      instanceId: event.instanceId,
      source: 'instance-status',
      eventId: event.eventId,
      code: event.code,
      startsAt: event.notBefore.toISOString(),
      ...(event.description === undefined ? {} : { description: event.description }),
      at: now().toISOString(),
    };
    if (options.dryRun) {
      if (!known.has(`${change.instanceId} ${change.eventId}`)) found.push(change);
      continue;
    }
    if (!(await state.addScheduledChange(fleet, change))) continue;
    logger.info('scheduled change found by the backstop', {
      fleet,
      instanceId: event.instanceId,
      eventId: event.eventId,
      code: event.code,
      startsAt: change.startsAt,
    });
    found.push(change);
  }
  return found;
}

/**
 * The one call of a retirement run for AWS's changes and image drift: the backstop first (the fleet's workers'
 * scheduled events, recorded once; on a dry run, read and not recorded), then the workers due (dueRetirements:
 * scheduled changes soonest first, then drifted workers oldest first). `workers` are the fleet's listed workers (listFleetWorkers); `facts` the fleet's as
 * the run read them (read here when not given), with what the backstop found added.
 */
export async function findDueRetirements(
  deps: Omit<ScheduledChangeDependencies, 'config'>,
  fleet: string,
  spec: Pick<FleetSpec, 'ami'>,
  workers: readonly Worker[],
  facts?: Pick<FleetFacts, 'scheduledChanges' | 'image'>,
  options: { readonly dryRun?: boolean } = {},
): Promise<DueRetirement[]> {
  const known = facts ?? (await deps.state.readFacts(fleet, deps.now()));
  const found = await recordScheduledEvents(deps, fleet, workers, {
    dryRun: options.dryRun,
    known: known.scheduledChanges,
  });
  return dueRetirements(fleet, spec.ami, workers, {
    ...known,
    scheduledChanges: [...(known.scheduledChanges ?? []), ...found],
  });
}

/**
 * Tells the fleet's topic (kind `scheduled-change`) the workers whose retirement for a change AWS scheduled begins:
 * each with its event, code and time, replaced first, drained and terminated before then. Sent by the run that
 * begins them, before it records that they began: a run that dies in between tells again (deduplicate on the
 * event id, each worker's `correlationId`).
 */
export async function notifyScheduledChanges(
  deps: { readonly sns: SNSClient; readonly events: EventBridgeClient; readonly config: Config },
  fleet: string,
  due: readonly DueRetirement[],
): Promise<void> {
  if (due.length === 0) return;
  const codes = [...new Set(due.map((retirement) => retirement.detail.code))].join(', ');
  const soonest = due.map((retirement) => retirement.notAfter?.toISOString() ?? '').sort()[0];
  await notify(deps, deps.config.topicArn, {
    kind: 'scheduled-change',
    fleet,
    subject: `worker-fleet ${fleet}: AWS scheduled ${codes} for ${due.map((retirement) => retirement.instanceId).join(', ')} from ${soonest}: replaced first, then drained and terminated before then unless protected`,
    details: {
      workers: due.map((retirement) => ({
        instanceId: retirement.instanceId,
        correlationId: retirement.correlationId,
        ...retirement.detail,
      })),
    },
  });
}
