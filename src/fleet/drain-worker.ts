import { describeWorker, tagWorkers, terminateWorkers } from '../aws/ec2-workers';
import { notify } from '../aws/notification-event';
import { fleetSpec } from '../config';
import { NotAWorkerError, ProtectedWorkerError } from '../errors';
import { TAG } from '../model/tags';
import { isOwnedBy } from '../model/worker';
import { type ReapDependencies, reapIdleWorkers } from './reap-idle-workers';
import { isProtected } from './reap-plan';
import { requestRetirement } from './retirement';
import { retirementOf } from './retirement-plan';

export type DrainDependencies = ReapDependencies;

export interface DrainResult {
  readonly instanceId: string;
  readonly fleet: string;
  /**
   * `draining`: retired through the graceful path (replaced first unless shrinking, drained, then terminated);
   * `terminated`: at once (`now`); `already-gone`; `already-retiring`: a retirement was under way; `would-…` on a dry
   * run, which changes nothing.
   */
  readonly status:
    | 'draining'
    | 'terminated'
    | 'already-gone'
    | 'already-retiring'
    | 'would-drain'
    | 'would-terminate';
  /** What the drain waits for, in words, for the operator. */
  readonly waitsFor?: string;
}

/** The idle reason an operator's drain leaves on the worker it terminates at once. */
export const DRAINED = 'drained-by-operator';

export interface DrainOptions {
  /** Terminate at once: no replacement first, no drain hook. */
  readonly now?: boolean;
  /** Lower the fleet's desired size by one, so it is not refilled (and not replaced first). */
  readonly shrink?: boolean;
  /** Say what would be done; change nothing. */
  readonly dryRun?: boolean;
}

/**
 * Takes one worker out of its fleet on an operator's request, gracefully by default: a retirement (reason
 * `operator-drain`) recorded for the reaper, which replaces it first (unless `shrink`), asks it to drain, and
 * terminates it once its agent says drained or the fleet's drainGraceMinutes have passed; this invocation starts
 * that at once with a retirement run for the fleet. `now` terminates it at once instead, marked retired (the idle
 * tags) so the state-change path reads it as ours. `shrink` lowers the fleet's desired size by one first, so it is not
 * refilled; without it the size is kept and the fleet refilled, as Auto Scaling does. Only a worker carrying this
 * deployment's managed-by tag and instance profile is touched; anything else, and a worker tagged protected (whose
 * termination IAM denies the reaper), is refused before any change.
 */
export async function drainWorker(
  deps: DrainDependencies,
  instanceId: string,
  options: DrainOptions = {},
): Promise<DrainResult> {
  const { ec2, config, now, state } = deps;
  const worker = await describeWorker(ec2, instanceId);
  if (worker === undefined) throw new NotAWorkerError(`no such instance: ${instanceId}`);
  const fleet = worker.tags[TAG.fleet];
  if (!isOwnedBy(worker, config) || fleet === undefined) {
    throw new NotAWorkerError(`${instanceId} is not a worker of ${config.managedBy}; nothing was changed`);
  }
  if (worker.state === 'shutting-down' || worker.state === 'terminated') {
    return { instanceId, fleet, status: 'already-gone' };
  }
  if (isProtected(worker)) {
    throw new ProtectedWorkerError(
      `${instanceId} is protected by the ${TAG.protected} tag; remove the tag to drain it; nothing was changed`,
    );
  }
  const graceMinutes = fleet in config.fleets ? fleetSpec(config, fleet).drainGraceMinutes : 0;
  const replaceFirst = options.shrink !== true && fleet in config.fleets;
  const waitsFor = options.now
    ? 'nothing: terminated at once, without its drain hook'
    : `${replaceFirst ? 'its replacement to run, then ' : ''}its drain hook (its agent reports drained), at most ${graceMinutes}m after the drain request`;
  if (options.dryRun) {
    return { instanceId, fleet, status: options.now ? 'would-terminate' : 'would-drain', waitsFor };
  }
  if (options.shrink) {
    await state.addRequest(fleet, {
      id: `drain-${instanceId}`,
      kind: 'direct',
      shrink: 1,
      floor: 0,
      at: now().toISOString(),
    });
  }
  if (options.now) {
    await tagWorkers(ec2, [instanceId], { [TAG.idleSince]: now().toISOString(), [TAG.idleReason]: DRAINED });
    const { failed } = await terminateWorkers(ec2, [instanceId]);
    const [failure] = failed;
    if (failure !== undefined) {
      throw new Error(`${instanceId} was marked but not terminated: ${failure.code}: ${failure.message}`);
    }
    await notify(deps, config.topicArn, {
      kind: 'drained',
      fleet,
      subject: `worker-fleet ${fleet}: ${instanceId} terminated at once by an operator`,
      details: { instanceId, shrink: options.shrink === true },
    });
    return { instanceId, fleet, status: 'terminated', waitsFor };
  }
  const recorded = await requestRetirement(
    state,
    fleet,
    retirementOf(worker, 'operator-drain', now(), {
      replaceFirst,
      correlationId: `drain-${instanceId}`,
    }),
  );
  // Its first step now (the replacement asked for, or the drain request); the retire schedule carries the rest on.
  if (fleet in config.fleets) await reapIdleWorkers(deps, { fleet, retireOnly: true });
  return { instanceId, fleet, status: recorded ? 'draining' : 'already-retiring', waitsFor };
}
