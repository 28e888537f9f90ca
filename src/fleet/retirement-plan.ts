import type { FleetSpec } from '../model/fleet-spec';
import type { FleetFacts, ReplacementFact, RetirementFact, RetirementReason } from '../model/fleet-state';
import type { Heartbeat } from '../model/heartbeat';
import { TAG } from '../model/tags';
import { replacedInstance, type Worker } from '../model/worker';
import { isProtected } from './reap-plan';

/**
 * What each reason does on the one graceful path (docs/retirement.md): replaced first (the fleet would otherwise drop
 * below its desired size), and counted against the fleet's disruption budget. Every reason is drained.
 */
export const RETIREMENT_REASONS = {
  // Idle reaping saves money: budgeted, never held for a window.
  idle: { replaceFirst: false, budgeted: true, windowed: false },
  'max-lifetime': { replaceFirst: true, budgeted: true, windowed: true },
  'operator-drain': { replaceFirst: true, budgeted: false, windowed: false },
  'replaced-early': { replaceFirst: false, budgeted: false, windowed: false },
  orphan: { replaceFirst: false, budgeted: false, windowed: false },
  'above-max': { replaceFirst: false, budgeted: true, windowed: true },
  // AWS sets its time: held neither by the budget nor by a window, so that it is done before it.
  'scheduled-change': { replaceFirst: true, budgeted: false, windowed: false },
  'ami-drift': { replaceFirst: true, budgeted: true, windowed: true },
  rebuilt: { replaceFirst: false, budgeted: false, windowed: false },
} as const satisfies Readonly<
  Record<RetirementReason, { replaceFirst: boolean; budgeted: boolean; windowed: boolean }>
>;

const REASONS = Object.keys(RETIREMENT_REASONS) as RetirementReason[];
const isReason = (value: string | undefined): value is RetirementReason =>
  REASONS.includes(value as RetirementReason);

/** A worker a run wants to retire, with why. */
export interface RetirementCandidate {
  readonly worker: Worker;
  readonly reason: RetirementReason;
  readonly correlationId?: string;
  /** Not asked to drain before this time (an orphan's grace). */
  readonly notBefore?: Date;
  /** Terminated before this time (an AWS scheduled change's start). */
  readonly notAfter?: Date;
}

/** The fact that begins a retirement: replaced first as its reason says unless told otherwise. */
export function retirementOf(
  worker: Pick<Worker, 'instanceId' | 'instanceType' | 'subnetId'>,
  reason: RetirementReason,
  at: Date,
  options: {
    readonly replaceFirst?: boolean;
    readonly correlationId?: string;
    readonly notBefore?: Date;
    readonly notAfter?: Date;
  } = {},
): RetirementFact {
  return {
    instanceId: worker.instanceId,
    reason,
    replaceFirst: options.replaceFirst ?? RETIREMENT_REASONS[reason].replaceFirst,
    requestedAt: at.toISOString(),
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    ...(options.notBefore === undefined ? {} : { notBefore: options.notBefore.toISOString() }),
    ...(options.notAfter === undefined ? {} : { notAfter: options.notAfter.toISOString() }),
    pool: { instanceType: worker.instanceType, subnetId: worker.subnetId },
  };
}

/**
 * The workers a percentage budget is taken of: the fleet's pending and running workers, not interrupted, without the
 * replacements of workers still retiring (a retirement replaced first would otherwise grow its own budget). Pure.
 */
export function budgetedWorkers(workers: readonly Worker[], retiring: ReadonlySet<string>): number {
  const listed = new Set(workers.map((worker) => worker.instanceId));
  return workers.filter((worker) => {
    if (!['pending', 'running'].includes(worker.state) || TAG.interruptedAt in worker.tags) return false;
    const replaces = replacedInstance(worker);
    return replaces === undefined || !(retiring.has(replaces) && listed.has(replaces));
  }).length;
}

/** The most workers of a fleet in planned disruption at once: a number, or a percentage of its workers rounded up. */
export function disruptionBudget(spec: Pick<FleetSpec, 'disruption'>, workers: number): number {
  const budget = spec.disruption?.budget;
  if (budget === undefined) return Number.POSITIVE_INFINITY;
  if (typeof budget === 'number') return budget;
  return Math.max(1, Math.ceil((Number.parseInt(budget, 10) * workers) / 100));
}

/**
 * Where a retirement stands: `waiting` to start (for the budget, a window, its grace), `replacing` (its replacement
 * asked for, not yet drained), `draining` (its drain requested). A retirement has started once it is past waiting.
 */
export function retirementStage(
  fact: RetirementFact,
  replacements: FleetFacts['replacements'],
): 'waiting' | 'replacing' | 'draining' {
  if (fact.drainRequestedAt !== undefined) return 'draining';
  return fact.replaceFirst && replacements[fact.instanceId] !== undefined ? 'replacing' : 'waiting';
}

/** One step of one retirement in a run. */
export type RetirementStep =
  /** Record the replacement fact: the reconciliation launches it. */
  | { readonly step: 'replace'; readonly fact: RetirementFact; readonly replacement: ReplacementFact }
  /** Nothing to do yet: the replacement is not running, the budget is spent, or the worker is protected. */
  | { readonly step: 'wait'; readonly fact: RetirementFact; readonly why: string }
  /** Record the drain request, then tag the worker with it. */
  | { readonly step: 'drain'; readonly fact: RetirementFact; readonly worker: Worker }
  /** The drain request is recorded but the worker lacks its tag (a run died between the two): tag it again. */
  | { readonly step: 'retag'; readonly fact: RetirementFact; readonly worker: Worker }
  | {
      readonly step: 'terminate';
      readonly fact: RetirementFact;
      readonly worker: Worker;
      readonly why: string;
    }
  /** The worker is gone: the fact is done. */
  | { readonly step: 'forget'; readonly instanceId: string };

export interface RetirementPlan {
  /** Facts this run records before any step: new retirements, and ones rebuilt from a worker's drain tag. */
  readonly record: readonly RetirementFact[];
  /** The retirements this run begins: the candidates' facts among `record` (none rebuilt, none known before). */
  readonly started: readonly RetirementFact[];
  /** Retirements under way for another reason that a change AWS scheduled now bounds (`notAfter`), among `record`. */
  readonly rescheduled: readonly RetirementFact[];
  readonly steps: readonly RetirementStep[];
}

const isRunning = (worker: Worker) => worker.state === 'running';
const validDate = <F extends Date | undefined>(value: string | undefined, fallback: F): Date | F => {
  const at = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(at) ? fallback : new Date(at);
};

/**
 * A run's steps for every retirement of a fleet, pure. A retirement has started once its replacement is asked for
 * or its drain requested; starting one with a budgeted reason takes a place in the fleet's disruption budget (the
 * budgeted retirements already started hold the rest), so two runs, which the reaper's lease serialises, never
 * exceed it together. Candidates start only where the budget has room, in the order given (the caller's: the
 * oldest first); facts other triggers recorded wait for room the same way, oldest first. A started retirement goes
 * on: replaced first (its replacement fact, then its replacement running), then drained (the request recorded, the
 * worker tagged), then terminated once its heartbeat says `drained` or its deadline has passed. A protected worker
 * is never drained nor terminated. A worker that carries a drain tag with no fact (lost) gets its fact rebuilt from
 * the tag.
 */
export function planRetirements(input: {
  readonly workers: readonly Worker[];
  readonly facts: Pick<FleetFacts, 'replacements' | 'retirements'>;
  readonly candidates: readonly RetirementCandidate[];
  readonly heartbeats: ReadonlyMap<string, Heartbeat>;
  readonly budget: number;
  /** Whether the fleet's disruption windows are open now (true without windows): windowed reasons wait otherwise. */
  readonly windowOpen?: boolean;
  readonly drainGraceMinutes: number;
  readonly now: Date;
  /** False for a fleet no longer configured; a configured fleet forgets orphan retirements not yet drained. */
  readonly configured?: boolean;
}): RetirementPlan {
  const { workers, facts, candidates, heartbeats, budget, drainGraceMinutes, now } = input;
  const windowOpen = input.windowOpen ?? true;
  const configured = input.configured ?? true;
  const byId = new Map(workers.map((worker) => [worker.instanceId, worker]));
  const retirements = new Map(Object.entries(facts.retirements ?? {}));
  const record: RetirementFact[] = [];
  const graceMs = drainGraceMinutes * 60_000;

  for (const worker of workers) {
    const tagged = worker.tags[TAG.drainRequestedAt];
    if (tagged === undefined || retirements.has(worker.instanceId)) continue;
    const at = validDate(tagged, now);
    const reason = worker.tags[TAG.drainReason];
    // Recorded now (its memory runs from now: a fact rebuilt from an old tag is not stored already expired), drained
    // since the tag's time.
    const fact: RetirementFact = {
      ...retirementOf(worker, isReason(reason) ? reason : 'rebuilt', now, { replaceFirst: false }),
      drainRequestedAt: at.toISOString(),
      deadline: new Date(at.getTime() + graceMs).toISOString(),
    };
    retirements.set(worker.instanceId, fact);
    record.push(fact);
  }

  const isStarted = (fact: RetirementFact) => retirementStage(fact, facts.replacements) !== 'waiting';
  const steps: RetirementStep[] = [];
  // A protected worker is never drained nor terminated: it holds no place in the budget while it is protected.
  const holdsPlace = (fact: RetirementFact) => {
    const worker = byId.get(fact.instanceId);
    return worker !== undefined && !isProtected(worker) && isStarted(fact);
  };
  let disrupted = [...retirements.values()].filter(
    (fact) => holdsPlace(fact) && RETIREMENT_REASONS[fact.reason].budgeted,
  ).length;
  const waiting = [...retirements.values()]
    .filter((fact) => !isStarted(fact))
    .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.instanceId.localeCompare(b.instanceId));
  const fresh = candidates
    .filter((candidate) => !retirements.has(candidate.worker.instanceId))
    .map((candidate) =>
      retirementOf(candidate.worker, candidate.reason, now, {
        correlationId: candidate.correlationId,
        notBefore: candidate.notBefore,
        notAfter: candidate.notAfter,
      }),
    );
  // Each worker once: by the first candidate that names it and may start now (the caller's order is its priority).
  const mayStart = new Set<string>();
  const started: RetirementFact[] = [];
  for (const fact of [...waiting, ...fresh]) {
    const worker = byId.get(fact.instanceId);
    if (worker === undefined || mayStart.has(fact.instanceId)) continue;
    // A protected worker is never drained: only what AWS scheduled for it starts, to be replaced (and told).
    if (isProtected(worker) && fact.reason !== 'scheduled-change') continue;
    if (RETIREMENT_REASONS[fact.reason].windowed && !windowOpen) continue;
    if (RETIREMENT_REASONS[fact.reason].budgeted) {
      if (disrupted >= budget) continue;
      disrupted += 1;
    }
    mayStart.add(fact.instanceId);
    if (!retirements.has(fact.instanceId)) started.push(fact);
  }
  for (const fact of started) {
    retirements.set(fact.instanceId, fact);
    record.push(fact);
  }
  // A retirement under way for another reason when AWS schedules a change: done before the change begins, and told.
  const rescheduled: RetirementFact[] = [];
  for (const candidate of candidates) {
    const known = retirements.get(candidate.worker.instanceId);
    // Only a change AWS scheduled carries a notAfter.
    if (candidate.notAfter === undefined) continue;
    if (known === undefined || known.reason === 'scheduled-change' || known.notAfter !== undefined) continue;
    const notAfter = candidate.notAfter.getTime() - NOT_AFTER_MARGIN_MS;
    const fact: RetirementFact = {
      ...known,
      notAfter: candidate.notAfter.toISOString(),
      ...(known.deadline === undefined
        ? {}
        : { deadline: new Date(Math.min(Date.parse(known.deadline), notAfter)).toISOString() }),
    };
    retirements.set(fact.instanceId, fact);
    record.push(fact);
    rescheduled.push(fact);
  }

  for (const fact of retirements.values()) {
    const worker = byId.get(fact.instanceId);
    const reclaimed = configured && fact.reason === 'orphan' && fact.drainRequestedAt === undefined;
    if (worker === undefined || reclaimed) {
      steps.push({ step: 'forget', instanceId: fact.instanceId });
      continue;
    }
    if (isProtected(worker)) {
      const replace = stepOf(fact, worker, workers, facts, heartbeats, graceMs, now);
      // Replaced first even so for what AWS scheduled: it takes the worker whatever its tag.
      steps.push(
        replace.step === 'replace' && fact.reason === 'scheduled-change'
          ? replace
          : { step: 'wait', fact, why: `protected by the ${TAG.protected} tag` },
      );
      continue;
    }
    if (!isStarted(fact) && !mayStart.has(fact.instanceId)) {
      const why =
        RETIREMENT_REASONS[fact.reason].windowed && !windowOpen
          ? 'outside its disruption windows'
          : `disruption budget spent (${budget})`;
      steps.push({ step: 'wait', fact, why });
      continue;
    }
    steps.push(stepOf(fact, worker, workers, facts, heartbeats, graceMs, now));
  }
  return { record, started, rescheduled, steps };
}

/**
 * How long before an AWS scheduled change begins its worker is terminated at the latest: EC2 takes a minute or two
 * to shut an instance down.
 */
export const NOT_AFTER_MARGIN_MS = 5 * 60_000;

function stepOf(
  fact: RetirementFact,
  worker: Worker,
  workers: readonly Worker[],
  facts: Pick<FleetFacts, 'replacements'>,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  graceMs: number,
  now: Date,
): RetirementStep {
  const notAfter = validDate(fact.notAfter, undefined)?.getTime();
  if (fact.drainRequestedAt === undefined) {
    if (fact.notBefore !== undefined && now.getTime() < Date.parse(fact.notBefore)) {
      return { step: 'wait', fact, why: `its grace runs until ${fact.notBefore}` };
    }
    if (fact.replaceFirst) {
      const replacing = workers.some((candidate) => replacedInstance(candidate) === fact.instanceId);
      // A replacement listed by EC2 stands for its fact once that has expired: never asked for twice.
      if (facts.replacements[fact.instanceId] === undefined && !replacing) {
        return {
          step: 'replace',
          fact,
          replacement: {
            instanceId: fact.instanceId,
            cause: 'retirement',
            reason: fact.reason,
            correlationId: fact.correlationId ?? `retire-${fact.instanceId}`,
            pool: fact.pool ?? { instanceType: worker.instanceType, subnetId: worker.subnetId },
            at: now.toISOString(),
            status: 'pending',
          },
        };
      }
      const replacement = workers.find(
        (candidate) => replacedInstance(candidate) === fact.instanceId && isRunning(candidate),
      );
      // A change AWS scheduled does not wait for the replacement past the time its drain must begin.
      const mustDrain = notAfter !== undefined && now.getTime() >= notAfter - NOT_AFTER_MARGIN_MS - graceMs;
      if (replacement === undefined && !mustDrain) {
        return { step: 'wait', fact, why: 'its replacement is not running yet' };
      }
    }
    // No drain grace (drainGraceMinutes 0): the fleet asked for no drain; terminated at once, as before there was one.
    if (graceMs === 0) return { step: 'terminate', fact, worker, why: 'the fleet gives no drain grace' };
    const deadline = Math.min(
      now.getTime() + graceMs,
      (notAfter ?? Number.POSITIVE_INFINITY) - NOT_AFTER_MARGIN_MS,
    );
    return {
      step: 'drain',
      fact: {
        ...fact,
        drainRequestedAt: now.toISOString(),
        deadline: new Date(Math.max(now.getTime(), deadline)).toISOString(),
      },
      worker,
    };
  }
  if (heartbeats.get(fact.instanceId)?.status === 'drained') {
    return { step: 'terminate', fact, worker, why: 'its agent reports drained' };
  }
  const deadline = validDate(fact.deadline, new Date(Date.parse(fact.drainRequestedAt) + graceMs));
  if (now.getTime() >= deadline.getTime()) {
    return { step: 'terminate', fact, worker, why: 'its drain grace is over' };
  }
  if (worker.tags[TAG.drainRequestedAt] === undefined) return { step: 'retag', fact, worker };
  return { step: 'wait', fact, why: 'draining' };
}
