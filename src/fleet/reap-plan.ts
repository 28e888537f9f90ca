import type { IdleSettings } from '../model/fleet-spec';
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
 * counts nor keeps it. It is terminated when past its max lifetime, or, replaced early, once its replacement has run
 * `rebalanceRetireAfterMinutes` (its Worker Draining went out when it was marked); else it is left to EC2 and the
 * interruption handler.
 */
function drainingAction(
  worker: Worker,
  verdict: Verdict,
  replacement: Worker | undefined,
  now: Date,
  early: { readonly rebalanceRetireAfterMinutes: number },
): ReapAction {
  if (isProtected(worker))
    return { action: 'keep', worker, verdict, reason: `protected by the ${TAG.protected} tag` };
  if (verdict.kind === 'retire') return { action: 'terminate', worker, verdict, idleSince: now };
  const replacedAt = replacement?.launchTime?.getTime();
  const retireAt =
    replacedAt === undefined ? undefined : replacedAt + early.rebalanceRetireAfterMinutes * 60_000;
  if (worker.tags[TAG.interruption] === 'rebalance' && retireAt !== undefined && now.getTime() >= retireAt) {
    const retired: Verdict = {
      ...verdict,
      kind: 'retire',
      rule: 'rebalance',
      explanation: `retire: replaced early by ${replacement?.instanceId}, which has run ${early.rebalanceRetireAfterMinutes}m`,
    };
    return { action: 'terminate', worker, verdict: retired, idleSince: new Date(retireAt) };
  }
  return { action: 'keep', worker, verdict, reason: 'draining: left to the interruption handler' };
}

/** When a worker was launched, for the oldest-first order of retirements; an unknown launch time goes last. */
const launchedAt = (worker: Worker) => worker.launchTime?.getTime() ?? Number.POSITIVE_INFINITY;

/**
 * Two phases: an idle (or retiring) worker is first marked; only if it is still idle at a later run, at least
 * `terminateAfterMinutes` after the mark, is it terminated. A worker busy or young again is unmarked. Never
 * terminated: workers being interrupted (left to the interruption handler), protected workers, and workers the
 * fleet's `minWorkers` floor keeps. The floor allows (workers not being interrupted − minWorkers) terminations a
 * run; workers past their max lifetime take them first, the oldest first, then idle workers, the longest idle
 * first; the rest wait. The launcher replaces what is retired, so a later run can retire more. A run held by
 * holdForStaleHeartbeats marks and terminates nothing (it still unmarks: that only keeps workers). Pure.
 */
export function planReaping(
  settings: IdleSettings & { readonly minWorkers: number },
  judged: readonly JudgedWorker[],
  now: Date,
  early: { readonly rebalanceRetireAfterMinutes: number } = { rebalanceRetireAfterMinutes: 2 },
): ReapAction[] {
  const actions: ReapAction[] = [];
  const due: { worker: Worker; verdict: Verdict; idleSince: Date }[] = [];
  let active = 0;
  const replacements = new Map<string, Worker>();
  for (const { worker } of judged) {
    const replaces = replacedInstance(worker);
    if (replaces !== undefined) replacements.set(replaces, worker);
  }
  for (const { worker, verdict } of judged) {
    if (TAG.interruptedAt in worker.tags) {
      actions.push(drainingAction(worker, verdict, replacements.get(worker.instanceId), now, early));
      continue;
    }
    active += 1;
    const idleSince = idleSinceOf(worker);
    switch (verdict.kind) {
      case 'idle':
      case 'retire':
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
  const retiring = due
    .filter((candidate) => candidate.verdict.kind === 'retire')
    .sort((a, b) => launchedAt(a.worker) - launchedAt(b.worker) || byId(a, b));
  const idle = due
    .filter((candidate) => candidate.verdict.kind !== 'retire')
    .sort((a, b) => a.idleSince.getTime() - b.idleSince.getTime() || byId(a, b));
  for (const candidate of [...retiring, ...idle]) {
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
