import type { FleetSpec } from '../model/fleet-spec';
import { placementKey } from '../model/pool';
import { TAG } from '../model/tags';
import type { Worker } from '../model/worker';
import { clientToken } from './client-token';

/**
 * A fleet's facts, kept in the state bucket: what triggers asked for and which workers need a replacement. Every
 * trigger only adds to it; the fleet's reconciliation (one at a time per fleet) reads it with what EC2 says exists
 * and acts, so a retry after a crash recomputes the same answer. A new source of a fleet's size is one more kind of
 * request here; a new reason to replace a worker is one more cause.
 */
export interface FleetRecord {
  /** The size last asked for; absent until a trigger asks (then only replacements are launched). */
  readonly desired?: number;
  /** Requests not applied yet, in the order they came. */
  readonly requests?: readonly SizeRequest[];
  /** Ids of the requests applied lately: a redelivered request is applied once. */
  readonly applied?: readonly string[];
  /** Workers to replace, by instance id. */
  readonly replacements?: Readonly<Record<string, ReplacementFact>>;
  /** The request that set the desired size: what growth's workers are tagged with, on every pass alike. */
  readonly desiredBy?: Pick<SizeRequest, 'id' | 'kind'>;
  /**
   * The last growth planned: the fleet as observed then (`basis`) and a number that changes whenever the basis does.
   * Growth's ClientTokens derive from both: a retry that observes the same fleet asks for the same instances; a
   * fleet refilled later, even to the same size, asks for new ones (EC2 keeps a token's answer for a day or more).
   */
  readonly growth?: Growth;
}

/** A growth's slot, and whether its outcome was told (a pass that launches nothing sees the same slot again). */
export interface Growth {
  readonly seq: number;
  readonly basis: string;
  readonly told?: boolean;
}

export type SizeRequestKind = 'schedule' | 'event' | 'direct';

/** What a trigger asks of a fleet's size: a target, or this many more than it has. */
export interface SizeRequest {
  readonly id: string;
  readonly kind: SizeRequestKind;
  readonly target?: number;
  readonly count?: number;
  readonly at: string;
}

export type ReplacementCause = 'spot-interruption' | 'rebalance-recommendation' | 'missed-warning';

/** A worker that is going or gone and needs one replacement, away from its pool. */
export interface ReplacementFact {
  readonly cause: ReplacementCause;
  /** The event that told us (its id: what notifications carry as correlationId). */
  readonly correlationId: string;
  readonly pool: { readonly instanceType: string; readonly subnetId: string };
  readonly at: string;
  /** `pending` until launched; `launched` once its replacement runs; `notified` once that is told. */
  readonly status: 'pending' | 'launched' | 'notified';
  readonly instanceIds?: readonly string[];
  /** When its replacement was seen launched (ISO). */
  readonly launchedAt?: string;
  /** The fleet topic was told there is no capacity for it (once: it is retried every reconciliation). */
  readonly toldNoCapacity?: boolean;
}

/** Workers that count as capacity: pending or running, and not on their way out after an interruption. */
export function countsAsCapacity(worker: Worker): boolean {
  return (worker.state === 'pending' || worker.state === 'running') && !(TAG.interruptedAt in worker.tags);
}

/** A replacement to launch now: for which worker, away from which pool, told under which correlation id. */
export interface PlannedReplacement {
  readonly instanceId: string;
  readonly avoid: string;
  readonly correlationId: string;
  readonly cause: ReplacementCause;
}

export interface ReconcilePlan {
  /** The size after the requests applied now; undefined when no trigger ever asked. */
  readonly desired?: number;
  /** Requests applied by this plan (to be recorded as applied before anything is launched). */
  readonly applied: readonly SizeRequest[];
  /** Workers that count as capacity now. */
  readonly active: number;
  /** Of them, on the spot market (the rest are on-demand). */
  readonly activeSpot: number;
  /** A request asked for more than maxCapacity allows. */
  readonly capped: boolean;
  readonly replacements: readonly PlannedReplacement[];
  /** Workers to launch beyond the replacements, to reach `desired`. */
  readonly grow: number;
  /** Growth's slot, when it grows: what its ClientTokens derive from (see FleetRecord.growth). */
  readonly growth?: Growth;
  /** The request that set the size (see FleetRecord.desiredBy). */
  readonly desiredBy?: Pick<SizeRequest, 'id' | 'kind'>;
  /** Replacement facts a running worker now satisfies, with the workers that replace them. */
  readonly satisfied: readonly { readonly instanceId: string; readonly by: readonly string[] }[];
  /** Replacements still needed that maxCapacity leaves no room for now. */
  readonly waiting: readonly string[];
}

/** How many applied request ids are remembered: far more than a trigger's retries span. */
export const APPLIED_MEMORY = 100;

/**
 * What the fleet needs now. Requests are applied in order (a target sets the size; a count adds to the workers
 * that count as capacity, or to the size a target just set); the size is capped at maxCapacity. Each worker with a
 * pending replacement fact and no running replacement gets one, first, while the fleet is under maxCapacity; the
 * rest of the gap to `desired` is growth. Interrupted workers (tagged, or with a replacement fact) do not count, so
 * a replacement fills their slot and is never doubled by growth. Retiring workers is the reaper's
 * (reap-plan.ts). Pure.
 */
export function planReconcile(
  spec: Pick<FleetSpec, 'targetCapacity' | 'maxCapacity'>,
  workers: readonly Worker[],
  record: FleetRecord,
): ReconcilePlan {
  const facts = record.replacements ?? {};
  const replacedBy = new Map<string, string[]>();
  for (const worker of workers) {
    const replaces = worker.tags[TAG.replaces];
    if (replaces !== undefined && (worker.state === 'pending' || worker.state === 'running')) {
      replacedBy.set(replaces, [...(replacedBy.get(replaces) ?? []), worker.instanceId]);
    }
  }
  // Going: interrupted (tagged, or with a replacement fact even before its tags are on). Not capacity.
  const going = new Set([
    ...Object.keys(facts),
    ...workers.filter((worker) => TAG.interruptedAt in worker.tags).map((worker) => worker.instanceId),
  ]);
  const capacity = workers.filter((worker) => countsAsCapacity(worker) && !going.has(worker.instanceId));
  const active = capacity.length;
  // Slots a replacement fills or is about to (a tagged worker's fact may still be on its way): growth leaves them.
  const reserved = [...going].filter(
    (instanceId) => !replacedBy.has(instanceId) && (facts[instanceId]?.status ?? 'pending') === 'pending',
  ).length;

  const seen = new Set(record.applied ?? []);
  const applied = (record.requests ?? []).filter((request) => !seen.has(request.id));
  let wanted = record.desired;
  // What a count adds to: the workers counting as capacity, or the size an earlier request of this batch set.
  let base: number | undefined;
  for (const request of applied) {
    base = request.target ?? (base ?? active) + (request.count ?? 0);
    wanted = base;
  }
  const desired = wanted === undefined ? undefined : Math.min(wanted, spec.maxCapacity);
  const capped = desired !== wanted;

  const satisfied: { instanceId: string; by: string[] }[] = [];
  const needed: PlannedReplacement[] = [];
  for (const [instanceId, fact] of Object.entries(facts).sort(([, a], [, b]) => a.at.localeCompare(b.at))) {
    if (fact.status !== 'pending') continue;
    const by = replacedBy.get(instanceId);
    if (by !== undefined) satisfied.push({ instanceId, by });
    else {
      needed.push({
        instanceId,
        avoid: placementKey(fact.pool),
        correlationId: fact.correlationId,
        cause: fact.cause,
      });
    }
  }
  const room = Math.max(0, spec.maxCapacity - active);
  const replacements = needed.slice(0, room);
  const grow = Math.max(0, (desired ?? 0) - active - Math.max(reserved, replacements.length));
  const basis = clientToken([...capacity.map((worker) => worker.instanceId).sort(), desired ?? 0]).slice(
    0,
    16,
  );
  const last = record.growth;
  const growth = grow === 0 ? undefined : last?.basis === basis ? last : { seq: (last?.seq ?? 0) + 1, basis };
  const lastApplied = applied.at(-1);
  const desiredBy =
    lastApplied === undefined ? record.desiredBy : { id: lastApplied.id, kind: lastApplied.kind };
  return {
    desired,
    applied,
    active,
    activeSpot: capacity.filter((worker) => worker.market === 'spot').length,
    capped,
    replacements,
    grow,
    growth,
    desiredBy,
    satisfied,
    waiting: needed.slice(room).map((replacement) => replacement.instanceId),
  };
}
