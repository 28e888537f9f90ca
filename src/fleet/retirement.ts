import type { Logger } from '@aws-lambda-powertools/logger';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { type TerminationFailure, tagWorkers, terminateWorkers } from '../aws/ec2-workers';
import { notify } from '../aws/notification-event';
import type { Config } from '../config';
import type {
  FactChange,
  FleetState,
  HeldLease,
  RetirementFact,
  RetirementReason,
} from '../model/fleet-state';
import { TAG } from '../model/tags';
import type { RetirementPlan, RetirementStep } from './retirement-plan';

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
