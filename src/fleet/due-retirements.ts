import type { FleetFacts, FleetImage, ScheduledChange } from '../model/fleet-state';
import { TAG } from '../model/tags';
import type { Worker } from '../model/worker';

/**
 * Why a worker is to be retired for AWS or for its image: two of the graceful path's reasons (beside idle, max
 * lifetime…), by the names that path gives them.
 */
export type FoundRetirementReason = 'scheduled-change' | 'ami-drift';

/** A worker to retire gracefully (replaced first, drained, then terminated), and by when. */
export interface DueRetirement {
  readonly fleet: string;
  readonly instanceId: string;
  readonly reason: FoundRetirementReason;
  /** When AWS's change may begin: the retirement must be done before. None for drift. */
  readonly notAfter?: Date;
  /** What asked for it: the Health event's ARN or EC2's instance event id (what notifications carry). */
  readonly correlationId?: string;
  /** What to log and notify: the event and its code, or the worker's image and the fleet's. */
  readonly detail: Readonly<Record<string, string>>;
}

/** States in which a worker can still be retired: anything stopping or stopped is EC2's already. */
const RETIRABLE: readonly string[] = ['pending', 'running'];

/**
 * Whether a worker runs another image than the one its fleet's reconciliation last resolved: false when either is
 * unknown, or when the fleet's `ami` changed since (the next pass resolves the new one: never on a guess).
 */
export function isDrifted(worker: Pick<Worker, 'imageId'>, image: FleetImage | undefined, ami: string) {
  return (
    image !== undefined &&
    image.ami === ami &&
    worker.imageId !== undefined &&
    worker.imageId !== image.imageId
  );
}

/** The open changes of each instance (a change closed by a later record of the same event is over). */
function openChanges(changes: readonly ScheduledChange[]): Map<string, ScheduledChange[]> {
  const closed = new Set(
    changes.filter((change) => change.closed).map((change) => `${change.instanceId} ${change.eventId}`),
  );
  const open = new Map<string, ScheduledChange[]>();
  for (const change of changes) {
    if (change.closed || closed.has(`${change.instanceId} ${change.eventId}`)) continue;
    open.set(change.instanceId, [...(open.get(change.instanceId) ?? []), change]);
  }
  return open;
}

/**
 * The fleet's workers to retire, at most one entry each: those AWS scheduled a change for (the earliest change, a
 * Health event's or the backstop's alike), soonest first; then those on another image than the fleet's, oldest
 * first. Only the fleet's listed, pending or running workers (the caller lists them with the ownership check), and
 * none already interrupted: a spot warning has them replaced and going. Pure.
 */
export function dueRetirements(
  fleet: string,
  ami: string,
  workers: readonly Worker[],
  facts: Pick<FleetFacts, 'scheduledChanges' | 'image'>,
): DueRetirement[] {
  const retirable = workers.filter(
    (worker) => RETIRABLE.includes(worker.state) && worker.tags[TAG.interruptedAt] === undefined,
  );
  const open = openChanges(facts.scheduledChanges ?? []);
  const scheduled: DueRetirement[] = [];
  const drifted: { worker: Worker; retirement: DueRetirement }[] = [];
  for (const worker of retirable) {
    const [first] = [...(open.get(worker.instanceId) ?? [])].sort((a, b) =>
      a.startsAt.localeCompare(b.startsAt),
    );
    if (first !== undefined) {
      scheduled.push({
        fleet,
        instanceId: worker.instanceId,
        reason: 'scheduled-change',
        notAfter: new Date(first.startsAt),
        correlationId: first.eventId,
        detail: { eventId: first.eventId, code: first.code, source: first.source, startsAt: first.startsAt },
      });
    } else if (isDrifted(worker, facts.image, ami)) {
      drifted.push({
        worker,
        retirement: {
          fleet,
          instanceId: worker.instanceId,
          reason: 'ami-drift',
          detail: { imageId: worker.imageId ?? '', fleetImage: facts.image?.imageId ?? '' },
        },
      });
    }
  }
  scheduled.sort((a, b) => (a.notAfter?.getTime() ?? 0) - (b.notAfter?.getTime() ?? 0));
  drifted.sort(
    (a, b) =>
      (a.worker.launchTime?.getTime() ?? 0) - (b.worker.launchTime?.getTime() ?? 0) ||
      a.worker.instanceId.localeCompare(b.worker.instanceId),
  );
  return [...scheduled, ...drifted.map(({ retirement }) => retirement)];
}
