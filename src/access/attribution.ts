import type { EC2Client } from '@aws-sdk/client-ec2';
import { describeWorker, findWorkerByAddress } from '../aws/ec2-workers';
import type { Config } from '../config';
import type { AccessRecord } from '../model/access-record';
import { TAG } from '../model/tags';
import { isOwnedBy, type Worker } from '../model/worker';
import { accountOf, workerSessionInstance } from './access-record';

/** What an access is joined with: the worker that made it, its fleet and the launch that started it. */
export interface Attribution {
  readonly instanceId?: string;
  readonly fleet?: string;
  /** What launched the worker (schedule, event, direct, replacement) and the trigger's id. */
  readonly launchReason?: string;
  readonly triggerId?: string;
  /** The instance's state when the access was logged; `unknown` when EC2 no longer knows it. */
  readonly instanceState?: string;
  /** A worker's credentials were used after its instance had stopped existing: an alert. */
  readonly afterTermination?: boolean;
}

export type AttributedAccess = AccessRecord & Attribution;

const ENDED = new Set(['shutting-down', 'terminated']);

function attributionOf(
  instanceId: string,
  worker: Worker | undefined,
  config: Config,
  time: string,
): Attribution {
  if (worker === undefined) {
    // EC2 forgets terminated instances after about an hour; the session names an instance that no longer exists.
    return { instanceId, instanceState: 'unknown', afterTermination: true };
  }
  const ours = isOwnedBy(worker, config);
  // Both times are to the second (a log line's, EC2's state transition reason): an access in the very second the
  // instance ended is not known to be after it, and is not said to be.
  const ended =
    ENDED.has(worker.state) &&
    (worker.stateChangedAt === undefined || Date.parse(time) > worker.stateChangedAt.getTime());
  return {
    instanceId,
    ...(ours
      ? {
          fleet: worker.tags[TAG.fleet],
          launchReason: worker.tags[TAG.launchReason],
          triggerId: worker.tags[TAG.triggerId],
        }
      : {}),
    instanceState: worker.state,
    ...(ended ? { afterTermination: true } : {}),
  };
}

/**
 * Joins accesses with workers, for one invocation: a worker session of the deployment's account names its instance
 * (a session of another account's role of the same name is nobody's); an S3 event, which only
 * carries an account and an address, is matched by the worker's private or public address (exact when workers reach
 * S3 through a gateway endpoint or their own public address, impossible behind a NAT). Each instance and address is
 * looked up once per attributor, however many accesses it made.
 */
export function createAttributor(ec2: EC2Client, config: Config) {
  // Workers run in the deployment's account: the one of the topic its own stack created.
  const account = accountOf(config.topicArn);
  const byInstance = new Map<string, Promise<Worker | undefined>>();
  const byAddress = new Map<string, Promise<Worker | undefined>>();
  const once = <K>(
    cache: Map<K, Promise<Worker | undefined>>,
    key: K,
    look: () => Promise<Worker | undefined>,
  ) => {
    let found = cache.get(key);
    if (found === undefined) {
      found = look();
      cache.set(key, found);
    }
    return found;
  };

  return async function attribute(record: AccessRecord): Promise<AttributedAccess> {
    const sessionInstance = workerSessionInstance(record.principal, config.workerRoleName, account);
    if (sessionInstance !== undefined) {
      const worker = await once(byInstance, sessionInstance, () => describeWorker(ec2, sessionInstance));
      return { ...record, ...attributionOf(sessionInstance, worker, config, record.time) };
    }
    if (record.source !== 'event' || record.sourceIp === '') return record;
    const worker = await once(byAddress, record.sourceIp, () =>
      findWorkerByAddress(ec2, config.managedBy, record.sourceIp),
    );
    return worker === undefined
      ? record
      : { ...record, ...attributionOf(worker.instanceId, worker, config, record.time) };
  };
}
