import type { FleetSpec } from '../model/fleet-spec';
import type {
  FleetFacts,
  FleetSize,
  LaunchIntent,
  ReplacementCause,
  ReplacementFact,
  SizeRequest,
} from '../model/fleet-state';
import { placementKey } from '../model/pool';
import { TAG } from '../model/tags';
import { REPLACEMENT_BATCH, replacedInstance, type Worker } from '../model/worker';
import { spreadAcrossSubnets } from './pools';

export type { ReplacementCause, ReplacementFact, SizeRequest };

/**
 * How long a launched instance that DescribeInstances does not list yet counts as capacity (EC2's listing is
 * eventually consistent: seconds, "up to several minutes" at worst). After it, an unlisted instance is gone.
 */
export const IN_FLIGHT_MS = 3 * 60 * 1000;

/** Instances answered to young intents that DescribeInstances does not list: in flight, unless they have ended. */
export function unlistedLaunches(workers: readonly Worker[], facts: FleetFacts, now: Date): string[] {
  const listed = new Set(workers.map((worker) => worker.instanceId));
  return facts.intents
    .filter(
      (intent) =>
        intent.status === 'answered' &&
        now.getTime() - Date.parse(intent.answeredAt ?? intent.at) < IN_FLIGHT_MS,
    )
    .flatMap((intent) => intent.instanceIds ?? [])
    .filter((id) => !listed.has(id));
}

/** Workers that count as capacity: pending or running, and not on their way out after an interruption. */
export function countsAsCapacity(worker: Worker): boolean {
  return (worker.state === 'pending' || worker.state === 'running') && !(TAG.interruptedAt in worker.tags);
}

/** A launch this pass makes: an intent to (re-)send, or a new slot to record first. */
export interface PlannedLaunch {
  readonly slot: string;
  readonly count: number;
  /** For a replacement: the workers it replaces, in launch order (one pool's, REPLACEMENT_BATCH at most). */
  readonly replaces?: readonly string[];
  readonly subnetId?: string;
  readonly avoid: readonly string[];
  /** The recorded intent, when the slot has one: re-sent as recorded when it has an attempt. */
  readonly intent?: LaunchIntent;
}

export interface ReconcilePlan {
  /** The size after the requests applied now; undefined when no trigger ever asked. */
  readonly desired?: number;
  /** The size to record, when it changed. */
  readonly size?: FleetSize;
  /** Requests applied by this plan (recorded as applied before anything is launched). */
  readonly applied: readonly SizeRequest[];
  /** Workers listed that count as capacity now. */
  readonly active: number;
  /** Of them, on the spot market. */
  readonly activeSpot: number;
  /** Instances launched but not listed yet (in-flight): capacity too, never launched again. */
  readonly inFlight: number;
  /** A request asked for more than maxCapacity allows. */
  readonly capped: boolean;
  /** Replacements to launch now, oldest fact first: a launch per pool, for up to REPLACEMENT_BATCH workers. */
  readonly replacements: readonly PlannedLaunch[];
  /** Growth to launch now: recorded shares first, then new ones (`grow-<n>-<share>` with n to be numbered). */
  readonly growth: readonly PlannedLaunch[];
  /** Workers to launch for growth this pass (the sum of `growth`). */
  readonly grow: number;
  /** Growth intents no longer needed, and answered intents whose instances are listed or past IN_FLIGHT_MS. */
  readonly done: readonly string[];
  /** Replacement facts a launched instance now satisfies, with its instances. */
  readonly satisfied: readonly { readonly instanceId: string; readonly by: readonly string[] }[];
  /** Workers still to be replaced that maxCapacity leaves no room for now. */
  readonly waiting: readonly string[];
  /** Replacement facts rebuilt from EC2 (an interrupted worker whose fact was unreadable). */
  readonly rebuilt: readonly ReplacementFact[];
}

const open = (intent: LaunchIntent) => intent.status !== 'answered';
const isGrowth = (intent: LaunchIntent) => intent.replaces === undefined;
const sumOf = (intents: readonly { count: number }[]) =>
  intents.reduce((sum, intent) => sum + intent.count, 0);

/**
 * The size the requests ask for, applied in order: a target sets it, a count adds, a shrink lowers. Two kinds of
 * target are recorded and not obeyed: one that happened before the last target applied (delivered out of order), and
 * a scheduled one that repeats the last target after the reaper lowered the size since (the floor holds until the
 * target changes or another trigger asks: a launch schedule and idle reaping never undo each other). Pure.
 */
function applyRequests(
  size: FleetSize | undefined,
  sizeWas: number | undefined,
  requests: readonly SizeRequest[],
  active: number,
): {
  wanted: number | undefined;
  targetAt: string | undefined;
  target: number | undefined;
  stale: readonly string[];
} {
  let wanted = sizeWas;
  let latest = size?.targetAt;
  let target = size?.target;
  let lowered = size?.desiredBy?.kind === 'reap';
  const stale: string[] = [];
  // What a count adds to: the workers counting as capacity, or the size an earlier request of this batch set.
  let base: number | undefined;
  for (const request of requests) {
    if (request.shrink !== undefined) {
      if (wanted !== undefined) wanted = Math.max(request.floor ?? 0, wanted - request.shrink);
      base = wanted;
      lowered = true;
      continue;
    }
    if (request.target !== undefined) {
      const happened = request.eventTime ?? request.at;
      const outOfOrder = latest !== undefined && Date.parse(happened) < Date.parse(latest);
      const repeatsAfterReaping = request.kind === 'schedule' && lowered && request.target === target;
      if (outOfOrder || repeatsAfterReaping) {
        stale.push(request.id);
        continue;
      }
      latest = happened;
      target = request.target;
    }
    base = request.target ?? (base ?? active) + (request.count ?? 0);
    wanted = base;
    lowered = false;
  }
  return { wanted, targetAt: latest, target, stale };
}

/**
 * The launches that replace `needed` (pending facts nothing launched yet replaces, oldest first). A recorded intent
 * is kept whole when it may have been sent (it is re-sent as recorded) or when every worker it replaces still needs
 * it; otherwise it is `dropped` and its workers are batched afresh, keeping the pools it tried. Workers that avoid the
 * same pools launch together, REPLACEMENT_BATCH at most per launch. Pure.
 */
export function replacementLaunches(
  needed: readonly ReplacementFact[],
  openIntents: readonly LaunchIntent[],
): { needed: PlannedLaunch[]; dropped: string[] } {
  const stillNeeded = new Set(needed.map((fact) => fact.instanceId));
  const launches: PlannedLaunch[] = [];
  const dropped: string[] = [];
  const kept = new Set<string>();
  const avoidOf = new Map<string, readonly string[]>();
  for (const intent of openIntents) {
    const replaces = intent.replaces;
    if (replaces === undefined) continue;
    const sent = intent.status === 'open' && intent.attempt !== undefined;
    if (sent || (replaces.length > 0 && replaces.every((id) => stillNeeded.has(id) && !kept.has(id)))) {
      launches.push({ slot: intent.slot, count: intent.count, replaces, avoid: intent.avoid, intent });
      for (const id of replaces) kept.add(id);
    } else {
      dropped.push(intent.slot);
      for (const id of replaces) avoidOf.set(id, intent.avoid);
    }
  }
  const groups = new Map<string, { avoid: readonly string[]; facts: ReplacementFact[] }>();
  for (const fact of needed) {
    if (kept.has(fact.instanceId)) continue;
    // A planned retirement is not about the worker's pool: its replacement may launch there.
    const avoid =
      avoidOf.get(fact.instanceId) ?? (fact.cause === 'retirement' ? [] : [placementKey(fact.pool)]);
    const key = [...avoid].sort().join(' ');
    const group = groups.get(key) ?? { avoid, facts: [] };
    group.facts.push(fact);
    groups.set(key, group);
  }
  for (const { avoid, facts } of groups.values()) {
    for (let first = 0; first < facts.length; first += REPLACEMENT_BATCH) {
      const batch = facts.slice(first, first + REPLACEMENT_BATCH);
      launches.push({
        slot: `replace-${batch[0]?.instanceId}`,
        count: batch.length,
        replaces: batch.map((fact) => fact.instanceId),
        avoid,
      });
    }
  }
  return {
    needed: launches,
    dropped: dropped.filter((slot) => !launches.some((launch) => launch.slot === slot)),
  };
}

/**
 * What the fleet needs now, from what EC2 lists and the fleet's facts. Capacity is the workers listed (not going)
 * plus the instances launched and not listed yet (in-flight, IN_FLIGHT_MS at most), plus intents that may have been
 * sent: none of them is launched twice, and maxCapacity is checked against all of them. Each pending replacement
 * without a launched instance gets one, oldest first, while there is room; growth fills the rest of the gap to
 * `desired`, recorded shares first. Interrupted workers do not count; their slots are left to their replacements.
 * Pure.
 */
export function planReconcile(
  spec: Pick<FleetSpec, 'targetCapacity' | 'maxCapacity' | 'subnets'>,
  workers: readonly Worker[],
  facts: FleetFacts,
  now: Date,
  /** Instances launched and not listed that EC2 says have ended: not in flight (see unlistedLaunches). */
  ended: ReadonlySet<string> = new Set(),
): ReconcilePlan {
  const listed = new Set([...workers.map((worker) => worker.instanceId), ...ended]);
  const facts_ = { ...facts.replacements };
  const rebuilt: ReplacementFact[] = [];
  if (facts.unreadable.some((key) => key.startsWith('replacement#'))) {
    for (const worker of workers) {
      const interruptedAt = worker.tags[TAG.interruptedAt];
      if (interruptedAt === undefined || facts_[worker.instanceId] !== undefined) continue;
      const fact: ReplacementFact = {
        instanceId: worker.instanceId,
        cause:
          worker.tags[TAG.interruption] === 'rebalance' ? 'rebalance-recommendation' : 'spot-interruption',
        correlationId: `rebuilt-${worker.instanceId}`,
        pool: { instanceType: worker.instanceType, subnetId: worker.subnetId },
        at: interruptedAt,
        status: 'pending',
      };
      facts_[worker.instanceId] = fact;
      rebuilt.push(fact);
    }
  }

  const done: string[] = [];
  let inFlight = 0;
  const replacedBy = new Map<string, string[]>();
  const replacedByOne = (replaced: string, instanceIds: readonly string[]) =>
    replacedBy.set(replaced, [...new Set([...(replacedBy.get(replaced) ?? []), ...instanceIds])]);
  for (const worker of workers) {
    const replaced = replacedInstance(worker);
    if (replaced !== undefined && (worker.state === 'pending' || worker.state === 'running')) {
      replacedByOne(replaced, [worker.instanceId]);
    }
  }
  for (const intent of facts.intents.filter((candidate) => candidate.status === 'answered')) {
    const ids = intent.instanceIds ?? [];
    const young = now.getTime() - Date.parse(intent.answeredAt ?? intent.at) < IN_FLIGHT_MS;
    const unlisted = ids.filter((id) => !listed.has(id));
    if (unlisted.length === 0 || !young) done.push(intent.slot);
    if (young) inFlight += unlisted.length;
    // The answer's instances in launch order: each replaces the worker at its place in the intent.
    if (young) {
      (intent.replaces ?? []).forEach((replaced, index) => {
        const id = ids[index];
        if (id !== undefined) replacedByOne(replaced, [id]);
      });
    }
  }

  // Going: interrupted (tagged, or with a replacement fact even before its tags are on). Not capacity.
  const going = new Set([
    ...Object.keys(facts_),
    ...workers.filter((worker) => TAG.interruptedAt in worker.tags).map((worker) => worker.instanceId),
  ]);
  const capacity = workers.filter((worker) => countsAsCapacity(worker) && !going.has(worker.instanceId));
  const active = capacity.length;

  const applied = facts.requests;
  const sizeWas = facts.unreadable.includes('size') ? spec.targetCapacity : facts.size?.desired;
  const { wanted, targetAt, target, stale } = applyRequests(facts.size, sizeWas, applied, active);
  const desired = wanted === undefined ? undefined : Math.min(wanted, spec.maxCapacity);
  const capped = desired !== wanted;
  const lastApplied = applied.filter((request) => !stale.includes(request.id)).at(-1);
  const desiredBy =
    lastApplied === undefined ? facts.size?.desiredBy : { id: lastApplied.id, kind: lastApplied.kind };
  const size =
    desired !== undefined && (desired !== facts.size?.desired || lastApplied !== undefined)
      ? {
          desired,
          ...(desiredBy === undefined ? {} : { desiredBy }),
          ...(targetAt === undefined ? {} : { targetAt }),
          ...(target === undefined ? {} : { target }),
        }
      : undefined;

  const satisfied: { instanceId: string; by: string[] }[] = [];
  const stillNeeded: ReplacementFact[] = [];
  for (const fact of Object.values(facts_).sort((a, b) => a.at.localeCompare(b.at))) {
    if (fact.status !== 'pending') continue;
    const by = replacedBy.get(fact.instanceId);
    if (by !== undefined) satisfied.push({ instanceId: fact.instanceId, by });
    else stillNeeded.push(fact);
  }
  const { needed, dropped } = replacementLaunches(stillNeeded, facts.intents.filter(open));
  done.push(...dropped);
  // Slots a replacement fills or is about to (a tagged worker's fact may still be on its way): growth leaves them.
  const reserved = [...going].filter(
    (instanceId) => !replacedBy.has(instanceId) && (facts_[instanceId]?.status ?? 'pending') === 'pending',
  ).length;

  // Intents that may have been sent (open, with an attempt) count against maxCapacity as if launched.
  const sent = (launch: PlannedLaunch) =>
    launch.intent?.status === 'open' && launch.intent.attempt !== undefined ? launch.count : 0;
  const openGrowth = facts.intents.filter((intent) => open(intent) && isGrowth(intent));
  const sentGrowth = sumOf(
    openGrowth.filter((intent) => intent.status === 'open' && intent.attempt !== undefined),
  );
  let room = Math.max(0, spec.maxCapacity - active - inFlight - sentGrowth);
  const replacements: PlannedLaunch[] = [];
  const waiting: string[] = [];
  for (const launch of needed) {
    const replaced = launch.replaces ?? [];
    if (sent(launch) > 0) replacements.push(launch);
    else if (room >= launch.count) {
      replacements.push(launch);
      room -= launch.count;
    } else if (room > 0 && launch.intent === undefined) {
      // A new batch takes what room there is; the rest wait for room.
      replacements.push({ ...launch, count: room, replaces: replaced.slice(0, room) });
      waiting.push(...replaced.slice(room));
      room = 0;
    } else waiting.push(...replaced);
  }

  // Growth: the gap to `desired` left by what is listed, in flight, reserved for replacements and already recorded.
  let gap = Math.max(0, (desired ?? 0) - active - inFlight - Math.max(reserved, sumOf(replacements)));
  const growth: PlannedLaunch[] = [];
  for (const intent of openGrowth) {
    const mustResend = intent.status === 'open' && intent.attempt !== undefined;
    if (mustResend || (gap >= intent.count && room >= intent.count)) {
      growth.push({
        slot: intent.slot,
        count: intent.count,
        avoid: intent.avoid,
        subnetId: intent.subnetId,
        intent,
      });
      gap = Math.max(0, gap - intent.count);
      if (!mustResend) room -= intent.count;
    } else done.push(intent.slot);
  }
  const fresh = Math.min(gap, room);
  spreadAcrossSubnets(fresh, spec.subnets).forEach((share, index) => {
    growth.push({ slot: `grow-new-${index}`, count: share.count, subnetId: share.subnetId, avoid: [] });
  });

  return {
    desired,
    size,
    applied,
    active,
    activeSpot: capacity.filter((worker) => worker.market === 'spot').length,
    inFlight,
    capped,
    replacements,
    growth,
    grow: sumOf(growth),
    done,
    satisfied,
    waiting,
    rebuilt,
  };
}
