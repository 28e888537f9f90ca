import type { FleetSpec, IdleSettings } from '../model/fleet-spec';
import type { Heartbeat } from '../model/heartbeat';
import { TAG } from '../model/tags';
import { replacedInstance, type Worker } from '../model/worker';
import type { Verdict } from './idle-policy';

export interface JudgedWorker {
  readonly worker: Worker;
  readonly verdict: Verdict;
}

export type ReapAction =
  | { readonly action: 'mark'; readonly worker: Worker; readonly verdict: Verdict }
  | { readonly action: 'unmark'; readonly worker: Worker; readonly verdict: Verdict }
  | {
      readonly action: 'terminate';
      readonly worker: Worker;
      readonly verdict: Verdict;
      readonly idleSince: Date;
    }
  | {
      readonly action: 'keep';
      readonly worker: Worker;
      readonly verdict: Verdict;
      readonly reason: string;
      /** What kept a worker due for termination: the protected tag, or the fleet's floor. */
      readonly keptBy?: 'protection' | 'floor';
    };

export function isProtected(worker: Worker): boolean {
  const value = worker.tags[TAG.protected];
  return value !== undefined && value.toLowerCase() !== 'false';
}

function idleSinceOf(worker: Worker): Date | undefined {
  const value = worker.tags[TAG.idleSince];
  if (value === undefined) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** Why a fleet's run is held: it marks and terminates nothing. */
export interface ReapHold {
  readonly reason: string;
  /** Workers past their boot grace whose last heartbeat is older than the timeout. */
  readonly stale: number;
  /** Workers past their boot grace. */
  readonly judged: number;
}

/** Below this many stale heartbeats a run is never held: one quiet worker is a worker, not an outage. */
const HOLD_MIN_STALE = 2;

/**
 * Holds the run when more than half of the workers past their boot grace (and at least HOLD_MIN_STALE) have a stale
 * heartbeat: so many going quiet at once is an outage (S3, IAM, the agent), not a fleet gone idle. Pure.
 */
export function holdForStaleHeartbeats(
  settings: Pick<IdleSettings, 'heartbeatTimeoutMinutes'>,
  judged: readonly JudgedWorker[],
): ReapHold | undefined {
  const pastGrace = judged.filter(({ verdict }) => verdict.kind !== 'young');
  const stale = pastGrace.filter(({ verdict }) => verdict.staleHeartbeat === true).length;
  if (stale < HOLD_MIN_STALE || stale * 2 <= pastGrace.length) return undefined;
  return {
    reason: `most heartbeats stale: ${stale} of ${pastGrace.length} workers past boot grace have no heartbeat newer than ${settings.heartbeatTimeoutMinutes}m`,
    stale,
    judged: pastGrace.length,
  };
}

/**
 * A draining worker (interrupted, or replaced early on a rebalance recommendation) is no capacity: the floor neither
 * counts nor keeps it, and the idle reaper leaves it alone: EC2 and the interruption handler end a warned one, the
 * graceful path (retirementCandidates, src/fleet/retirement.ts) one replaced early.
 */
function drainingAction(worker: Worker, verdict: Verdict): ReapAction {
  if (isProtected(worker))
    return { action: 'keep', worker, verdict, reason: `protected by the ${TAG.protected} tag` };
  return { action: 'keep', worker, verdict, reason: 'draining: left to the interruption handler' };
}

/** When a worker was launched, for the oldest-first order of retirements; an unknown launch time goes last. */
const launchedAt = (worker: Worker) => worker.launchTime?.getTime() ?? Number.POSITIVE_INFINITY;

/**
 * Two phases: an idle worker is first marked; only if it is still idle at a later run, at least
 * `terminateAfterMinutes` after the mark, is it due (`terminate`: retired through the graceful path, drained first).
 * A worker busy or young again is unmarked. Never due: workers being interrupted (left to the interruption handler),
 * workers past their max lifetime (retired through replacement, never marked idle: retirementCandidates), protected
 * workers, and workers the fleet's `minWorkers` floor keeps. The floor allows (workers neither interrupted nor past their lifetime −
 * minWorkers) terminations a run, the longest idle first; the rest wait. A run held by holdForStaleHeartbeats marks
 * and terminates nothing (it still unmarks: that only keeps workers). Pure.
 */
export function planReaping(
  settings: IdleSettings & { readonly minWorkers: number },
  judged: readonly JudgedWorker[],
  now: Date,
): ReapAction[] {
  const actions: ReapAction[] = [];
  const due: { worker: Worker; verdict: Verdict; idleSince: Date }[] = [];
  let active = 0;
  for (const { worker, verdict } of judged) {
    if (TAG.interruptedAt in worker.tags) {
      actions.push(drainingAction(worker, verdict));
      continue;
    }
    const idleSince = idleSinceOf(worker);
    // Past its max lifetime, it is going (replaced first): the floor keeps the others.
    if (verdict.kind !== 'retire') active += 1;
    switch (verdict.kind) {
      case 'retire':
        // Past its max lifetime: retired through replacement, under the fleet's budget, never marked idle.
        actions.push(
          idleSince === undefined
            ? {
                action: 'keep',
                worker,
                verdict,
                reason: 'past its max lifetime: retired through replacement',
              }
            : { action: 'unmark', worker, verdict },
        );
        break;
      case 'idle':
        if (idleSince === undefined) actions.push({ action: 'mark', worker, verdict });
        else if (now.getTime() - idleSince.getTime() >= settings.terminateAfterMinutes * 60_000) {
          due.push({ worker, verdict, idleSince });
        } else actions.push({ action: 'keep', worker, verdict, reason: 'marked idle, grace not over' });
        break;
      case 'busy':
      case 'young':
        actions.push(
          idleSince === undefined
            ? { action: 'keep', worker, verdict, reason: `${verdict.kind}` }
            : { action: 'unmark', worker, verdict },
        );
        break;
      case 'unknown':
        actions.push({ action: 'keep', worker, verdict, reason: 'unknown is never idle' });
        break;
    }
  }
  let allowed = Math.max(0, active - settings.minWorkers);
  // Deterministic order (ties by instance id): two runs that see the same fleet choose the same workers.
  const byId = (a: { worker: Worker }, b: { worker: Worker }) =>
    a.worker.instanceId.localeCompare(b.worker.instanceId);
  const idle = [...due].sort((a, b) => a.idleSince.getTime() - b.idleSince.getTime() || byId(a, b));
  for (const candidate of idle) {
    if (isProtected(candidate.worker)) {
      actions.push({
        ...candidate,
        action: 'keep',
        reason: `protected by the ${TAG.protected} tag`,
        keptBy: 'protection',
      });
    } else if (allowed === 0) {
      actions.push({
        ...candidate,
        action: 'keep',
        reason: `scale-in floor: minWorkers ${settings.minWorkers}`,
        keptBy: 'floor',
      });
    } else {
      allowed -= 1;
      actions.push({ ...candidate, action: 'terminate' });
    }
  }
  const hold = holdForStaleHeartbeats(settings, judged);
  if (hold === undefined) return actions;
  return actions.map(
    (action): ReapAction =>
      action.action === 'mark' || action.action === 'terminate'
        ? { action: 'keep', worker: action.worker, verdict: action.verdict, reason: `held: ${hold.reason}` }
        : action,
  );
}

/** A worker's age order: the oldest first, an unknown launch time last, ties by instance id. */
const oldestFirst = (a: Worker, b: Worker) =>
  launchedAt(a) - launchedAt(b) || a.instanceId.localeCompare(b.instanceId);

/**
 * The workers a fleet retires through the graceful path this run, by reason, in the order the disruption budget
 * takes them: workers replaced early on a rebalance recommendation once their replacement has run
 * `rebalanceRetireAfterMinutes`; workers past their max lifetime, the oldest first; and workers above a lowered
 * `maxCapacity` (idle ones first, by their heartbeat, then the youngest). `retiring` are the workers already on
 * their way out (a retirement fact or a drain tag): never candidates, and no capacity. Pure.
 */
export function retirementCandidates(
  spec: Pick<FleetSpec, 'rebalanceRetireAfterMinutes' | 'maxCapacity'> & {
    readonly idle: Pick<IdleSettings, 'maxLifetimeHours'>;
  },
  workers: readonly Worker[],
  retiring: ReadonlySet<string>,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  now: Date,
): { worker: Worker; reason: 'replaced-early' | 'max-lifetime' | 'above-max' }[] {
  const live = workers.filter(
    (worker) =>
      (worker.state === 'running' || worker.state === 'pending') && !retiring.has(worker.instanceId),
  );
  const replacementOf = new Map<string, Worker>();
  for (const worker of live) {
    const replaces = replacedInstance(worker);
    if (replaces !== undefined) replacementOf.set(replaces, worker);
  }
  const early = live.filter((worker) => {
    if (worker.tags[TAG.interruption] !== 'rebalance' || !(TAG.interruptedAt in worker.tags)) return false;
    const replacedAt = replacementOf.get(worker.instanceId)?.launchTime?.getTime();
    return (
      replacedAt !== undefined && now.getTime() >= replacedAt + spec.rebalanceRetireAfterMinutes * 60_000
    );
  });
  const capacity = live.filter((worker) => !(TAG.interruptedAt in worker.tags));
  const lifetime = spec.idle.maxLifetimeHours;
  const old =
    lifetime === undefined
      ? []
      : capacity
          .filter((worker) => now.getTime() - launchedAt(worker) >= lifetime * 3_600_000)
          .sort(oldestFirst);
  const rest = capacity.filter((worker) => !old.includes(worker));
  const excess = Math.max(0, capacity.length - spec.maxCapacity);
  const isIdle = (worker: Worker) => heartbeats.get(worker.instanceId)?.status === 'idle';
  const above = [...rest]
    .sort((a, b) => Number(isIdle(b)) - Number(isIdle(a)) || oldestFirst(b, a))
    .slice(0, Math.max(0, excess - old.length));
  return [
    ...early.map((worker) => ({ worker, reason: 'replaced-early' as const })),
    ...old.map((worker) => ({ worker, reason: 'max-lifetime' as const })),
    ...above.map((worker) => ({ worker, reason: 'above-max' as const })),
  ];
}
