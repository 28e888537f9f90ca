import type { Logger } from '@aws-lambda-powertools/logger';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { type TerminationFailure, tagWorkers, terminateWorkers } from '../aws/ec2-workers';
import { notify } from '../aws/notification-event';
import type { Config } from '../config';
import type { FleetSpec } from '../model/fleet-spec';
import type {
  FactChange,
  FleetFacts,
  FleetState,
  HeldLease,
  ReplacementFact,
  RetirementFact,
  RetirementReason,
} from '../model/fleet-state';
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
  } = {},
): RetirementFact {
  return {
    instanceId: worker.instanceId,
    reason,
    replaceFirst: options.replaceFirst ?? RETIREMENT_REASONS[reason].replaceFirst,
    requestedAt: at.toISOString(),
    ...(options.correlationId === undefined ? {} : { correlationId: options.correlationId }),
    ...(options.notBefore === undefined ? {} : { notBefore: options.notBefore.toISOString() }),
    pool: { instanceType: worker.instanceType, subnetId: worker.subnetId },
  };
}

/**
 * The entry point for any trigger that wants a worker retired (an operator's drain, an AWS scheduled change, AMI
 * drift): records the retirement, created only if absent (a redelivery changes nothing), for the reaper's next run
 * to carry through, under the fleet's fence, replaced first where the fact says so, drained, then terminated.
 * False when the worker already has one.
 */
export async function requestRetirement(
  state: Pick<FleetState, 'addRetirement'>,
  fleet: string,
  fact: RetirementFact,
): Promise<boolean> {
  return state.addRetirement(fleet, fact);
}

/** The most workers of a fleet in planned disruption at once: a number, or a percentage of its workers rounded up. */
export function disruptionBudget(spec: Pick<FleetSpec, 'disruption'>, workers: number): number {
  const budget = spec.disruption?.budget;
  if (budget === undefined) return Number.POSITIVE_INFINITY;
  if (typeof budget === 'number') return budget;
  return Math.max(1, Math.ceil((Number.parseInt(budget, 10) * workers) / 100));
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
  readonly steps: readonly RetirementStep[];
}

const isRunning = (worker: Worker) => worker.state === 'running';
const validDate = (value: string | undefined, fallback: Date) => {
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
    const fact: RetirementFact = {
      ...retirementOf(worker, isReason(reason) ? reason : 'rebuilt', at, { replaceFirst: false }),
      drainRequestedAt: at.toISOString(),
      deadline: new Date(at.getTime() + graceMs).toISOString(),
    };
    retirements.set(worker.instanceId, fact);
    record.push(fact);
  }

  const isStarted = (fact: RetirementFact) =>
    fact.drainRequestedAt !== undefined ||
    (fact.replaceFirst && facts.replacements[fact.instanceId] !== undefined);
  const steps: RetirementStep[] = [];
  let disrupted = [...retirements.values()].filter(
    (fact) => byId.has(fact.instanceId) && isStarted(fact) && RETIREMENT_REASONS[fact.reason].budgeted,
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
      }),
    );
  const mayStart = new Set<string>();
  for (const fact of [...waiting, ...fresh]) {
    const worker = byId.get(fact.instanceId);
    if (worker === undefined || isProtected(worker)) continue;
    if (RETIREMENT_REASONS[fact.reason].windowed && !windowOpen) continue;
    if (!RETIREMENT_REASONS[fact.reason].budgeted) mayStart.add(fact.instanceId);
    else if (disrupted < budget) {
      disrupted += 1;
      mayStart.add(fact.instanceId);
    }
  }
  const started = fresh.filter((fact) => mayStart.has(fact.instanceId));
  for (const fact of started) {
    retirements.set(fact.instanceId, fact);
    record.push(fact);
  }

  for (const fact of retirements.values()) {
    const worker = byId.get(fact.instanceId);
    const reclaimed = configured && fact.reason === 'orphan' && fact.drainRequestedAt === undefined;
    if (worker === undefined || reclaimed) {
      steps.push({ step: 'forget', instanceId: fact.instanceId });
      continue;
    }
    if (isProtected(worker)) {
      steps.push({ step: 'wait', fact, why: `protected by the ${TAG.protected} tag` });
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
  return { record, started, steps };
}

function stepOf(
  fact: RetirementFact,
  worker: Worker,
  workers: readonly Worker[],
  facts: Pick<FleetFacts, 'replacements'>,
  heartbeats: ReadonlyMap<string, Heartbeat>,
  graceMs: number,
  now: Date,
): RetirementStep {
  if (fact.drainRequestedAt === undefined) {
    if (fact.notBefore !== undefined && now.getTime() < Date.parse(fact.notBefore)) {
      return { step: 'wait', fact, why: `its grace runs until ${fact.notBefore}` };
    }
    if (fact.replaceFirst) {
      if (facts.replacements[fact.instanceId] === undefined) {
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
      if (replacement === undefined) return { step: 'wait', fact, why: 'its replacement is not running yet' };
    }
    // No drain grace (drainGraceMinutes 0): the fleet asked for no drain; terminated at once, as before there was one.
    if (graceMs === 0) return { step: 'terminate', fact, worker, why: 'the fleet gives no drain grace' };
    return {
      step: 'drain',
      fact: {
        ...fact,
        drainRequestedAt: now.toISOString(),
        deadline: new Date(now.getTime() + graceMs).toISOString(),
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

export interface RetirementDependencies {
  readonly ec2: EC2Client;
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly state: FleetState;
  readonly logger: Logger;
  readonly config: Config;
}

/** What a run's retirements did, by step. */
export interface RetirementOutcome {
  readonly replacing: readonly string[];
  readonly draining: readonly string[];
  readonly terminated: readonly RetiredWorker[];
  readonly waiting: readonly { readonly instanceId: string; readonly why: string }[];
  readonly failed: readonly TerminationFailure[];
}

/** A worker a run retired: why it was retired, and what ended its drain. */
export interface RetiredWorker {
  readonly instanceId: string;
  readonly reason: RetirementReason;
  readonly why: string;
  readonly correlationId?: string;
}

const drainTags = (fact: RetirementFact) => ({
  [TAG.drainRequestedAt]: fact.drainRequestedAt ?? '',
  [TAG.drainReason]: fact.reason,
});

/**
 * Carries a plan out under the reaper's fence: first one fenced commit of every fact it records (new and rebuilt
 * retirements, replacement facts, drain requests, done ones forgotten), then the effects that follow from them:
 * tags, then terminations. A run that dies after the commit leaves facts the next run carries on from (a drain
 * recorded but not tagged is tagged again); one that dies before it leaves nothing. Before terminating, the fence is
 * asked again; a terminated worker carries the idle tags (its reason, unless the idle reaper marked it), so its state
 * change reads as ours, and its fact is forgotten by the run that finds it gone. On a dry run, only logs. Notifying
 * is the caller's.
 */
export async function carryOutRetirements(
  deps: RetirementDependencies,
  fleet: string,
  plan: RetirementPlan,
  lease: HeldLease,
  options: { readonly dryRun: boolean; readonly now: Date },
): Promise<RetirementOutcome> {
  const { ec2, state, logger } = deps;
  const { now, dryRun } = options;
  const of = <S extends RetirementStep['step']>(step: S) =>
    plan.steps.filter(
      (candidate): candidate is Extract<RetirementStep, { step: S }> => candidate.step === step,
    );
  for (const step of plan.steps) {
    if (step.step === 'forget') continue;
    logger.info('retirement step', {
      fleet,
      instanceId: step.fact.instanceId,
      reason: step.fact.reason,
      step: dryRun ? `would ${step.step}` : step.step,
      ...(step.step === 'wait' || step.step === 'terminate' ? { why: step.why } : {}),
      ...(step.fact.deadline === undefined ? {} : { deadline: step.fact.deadline }),
    });
  }
  const waiting = of('wait').map((step) => ({ instanceId: step.fact.instanceId, why: step.why }));
  if (dryRun) return { replacing: [], draining: [], terminated: [], waiting, failed: [] };

  const changes: FactChange[] = [
    ...plan.record.map((fact): FactChange => ({ kind: 'retirement', fact })),
    ...of('replace').map((step): FactChange => ({ kind: 'replacement', fact: step.replacement })),
    ...of('drain').map((step): FactChange => ({ kind: 'retirement', fact: step.fact })),
    ...of('forget').map((step): FactChange => ({ kind: 'retirement-done', instanceId: step.instanceId })),
  ];
  if (changes.length > 0) await state.commit(lease, changes);

  for (const step of [...of('drain'), ...of('retag')]) {
    await tagWorkers(ec2, [step.worker.instanceId], drainTags(step.fact));
  }
  const terminating = of('terminate');
  const terminated: RetiredWorker[] = [];
  const failed: TerminationFailure[] = [];
  if (terminating.length > 0) {
    // The fence: a run whose lease was taken over terminates nothing.
    await state.commit(lease, []);
    // An idle worker keeps the mark it was judged with; any other is marked with its reason.
    for (const step of terminating.filter((candidate) => !(TAG.idleSince in candidate.worker.tags))) {
      await tagWorkers(ec2, [step.worker.instanceId], {
        [TAG.idleSince]: now.toISOString(),
        [TAG.idleReason]: step.fact.reason,
      });
    }
    const outcome = await terminateWorkers(
      ec2,
      terminating.map((step) => step.worker.instanceId),
    );
    failed.push(...outcome.failed);
    for (const failure of outcome.failed) logger.error('retirement terminate failed', { fleet, ...failure });
    for (const step of terminating.filter((candidate) =>
      outcome.terminated.includes(candidate.worker.instanceId),
    )) {
      terminated.push({
        instanceId: step.fact.instanceId,
        reason: step.fact.reason,
        why: step.why,
        ...(step.fact.correlationId === undefined ? {} : { correlationId: step.fact.correlationId }),
      });
      logger.info('worker retired', {
        fleet,
        instanceId: step.fact.instanceId,
        reason: step.fact.reason,
        why: step.why,
      });
    }
  }
  return {
    replacing: of('replace').map((step) => step.fact.instanceId),
    draining: of('drain').map((step) => step.fact.instanceId),
    terminated,
    waiting,
    failed,
  };
}

/** Tells the fleet's topic which workers were retired, why, and what ended their drain (kind `drained`). */
export async function notifyRetired(
  deps: Pick<RetirementDependencies, 'sns' | 'events' | 'config'>,
  fleet: string,
  retired: readonly RetiredWorker[],
): Promise<void> {
  await notify(deps, deps.config.topicArn, {
    kind: 'drained',
    fleet,
    subject: `worker-fleet ${fleet}: retired ${retired.map((worker) => `${worker.instanceId} (${worker.reason})`).join(', ')} after draining`,
    details: { retired },
  });
}
