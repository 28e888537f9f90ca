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

/** How long a lookup answers for later accesses of the same instance or address. */
export const WORKER_LOOKUP_TTL_MS = 60_000;
/** Lookups kept at most; the oldest goes first. */
const WORKER_LOOKUPS_KEPT = 10_000;

/**
 * Workers looked up by instance or address, kept for WORKER_LOOKUP_TTL_MS across invocations (the handler holds one
 * per container): every object a worker writes is an event, and without it each asked EC2 again. So
 * DescribeInstances calls are bounded by the distinct instances and addresses a container sees per minute (two
 * calls for an address: private, then public), not by the objects written. A worker's state may be a minute old:
 * an access after its termination is alerted on at the first lookup after the termination, at most a minute late.
 * An address no worker has is kept too (a NAT's, a stranger's). A failed lookup is not kept.
 */
export class WorkerLookups {
  readonly #entries = new Map<string, { readonly at: number; readonly found: Promise<Worker | undefined> }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = WORKER_LOOKUP_TTL_MS,
  ) {}

  /** The worker under this key, looked up with `look` when no lookup of the last TTL is kept. */
  get(key: string, look: () => Promise<Worker | undefined>): Promise<Worker | undefined> {
    const at = this.now();
    const kept = this.#entries.get(key);
    if (kept !== undefined && at - kept.at < this.ttlMs) return kept.found;
    this.#entries.delete(key);
    const found = look();
    const entry = { at, found };
    this.#entries.set(key, entry);
    found.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    if (this.#entries.size > WORKER_LOOKUPS_KEPT) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return found;
  }
}

/**
 * Joins accesses with workers: a worker session of the deployment's account names its instance (a session of
 * another account's role of the same name is nobody's); an S3 event, which only carries an account and an address,
 * is matched by the worker's private or public address (exact when workers reach S3 through a gateway endpoint or
 * their own public address, impossible behind a NAT). Lookups come from `lookups`, which may outlive the invocation
 * (see WorkerLookups); by default, one per attributor.
 */
export function createAttributor(ec2: EC2Client, config: Config, lookups = new WorkerLookups()) {
  // Workers run in the deployment's account: the one of the topic its own stack created.
  const account = accountOf(config.topicArn);

  return async function attribute(record: AccessRecord): Promise<AttributedAccess> {
    const sessionInstance = workerSessionInstance(record.principal, config.workerRoleName, account);
    if (sessionInstance !== undefined) {
      const worker = await lookups.get(`instance ${sessionInstance}`, () =>
        describeWorker(ec2, sessionInstance),
      );
      return { ...record, ...attributionOf(sessionInstance, worker, config, record.time) };
    }
    if (record.source !== 'event' || record.sourceIp === '') return record;
    const worker = await lookups.get(`address ${record.sourceIp}`, () =>
      findWorkerByAddress(ec2, config.managedBy, record.sourceIp),
    );
    return worker === undefined
      ? record
      : { ...record, ...attributionOf(worker.instanceId, worker, config, record.time) };
  };
}
