import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import { describeWorker, tagWorkers, terminateWorkers } from '../aws/ec2-workers';
import { notify } from '../aws/notification-event';
import type { Config } from '../config';
import { NotAWorkerError, ProtectedWorkerError } from '../errors';
import { TAG } from '../model/tags';
import { isOwnedBy } from '../model/worker';
import { isProtected } from './reap-plan';

export interface DrainDependencies {
  readonly ec2: EC2Client;
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly config: Config;
  readonly now: () => Date;
}

export interface DrainResult {
  readonly instanceId: string;
  readonly fleet: string;
  readonly status: 'terminated' | 'already-gone';
}

/** The idle reason an operator's drain leaves on the worker. */
export const DRAINED = 'drained-by-operator';

export interface DrainOptions {
  /** Drain a worker even though it carries the protected tag: the operator said so explicitly. */
  readonly force?: boolean;
}

/**
 * Takes one worker out of its fleet on an operator's request: it is marked as retired first (the idle tags, which
 * the state-change path reads as "ours, do not replace"), then terminated, and the fleet's topic is told. Only a
 * worker carrying this deployment's managed-by tag is touched; anything else is refused before any change, and so
 * is a worker tagged protected (the tag the reaper honours) unless `force` is given.
 */
export async function drainWorker(
  deps: DrainDependencies,
  instanceId: string,
  { force = false }: DrainOptions = {},
): Promise<DrainResult> {
  const { ec2, config, now } = deps;
  const worker = await describeWorker(ec2, instanceId);
  if (worker === undefined) throw new NotAWorkerError(`no such instance: ${instanceId}`);
  const fleet = worker.tags[TAG.fleet];
  if (!isOwnedBy(worker, config) || fleet === undefined) {
    throw new NotAWorkerError(`${instanceId} is not a worker of ${config.managedBy}; nothing was changed`);
  }
  if (worker.state === 'shutting-down' || worker.state === 'terminated') {
    return { instanceId, fleet, status: 'already-gone' };
  }
  if (isProtected(worker) && !force) {
    throw new ProtectedWorkerError(
      `${instanceId} is protected by the ${TAG.protected} tag; drain it with --force, or remove the tag; nothing was changed`,
    );
  }
  await tagWorkers(ec2, [instanceId], { [TAG.idleSince]: now().toISOString(), [TAG.idleReason]: DRAINED });
  const { failed } = await terminateWorkers(ec2, [instanceId]);
  const [failure] = failed;
  if (failure !== undefined) {
    throw new Error(`${instanceId} was marked but not terminated: ${failure.code}: ${failure.message}`);
  }
  await notify(deps, config.topicArn, {
    kind: 'drained',
    fleet,
    subject: `worker-fleet ${fleet}: ${instanceId} drained by an operator`,
    details: { instanceId },
  });
  return { instanceId, fleet, status: 'terminated' };
}
