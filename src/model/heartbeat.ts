import { createHash } from 'node:crypto';

/**
 * The heartbeat protocol between the worker agent (src/agent/worker-agent.sh) and the idle reaper. A worker writes
 * `heartbeats/<role-id>:<instance-id>` in the fleet bucket: the key is its session's `aws:userid`, the only heartbeat
 * key its role may write (infra/iam.yml), so no worker can speak for another. Its body is its status word alone (`busy`, `idle`, `draining`, `drained` once its drain hook has finished, or
 * `alive` for no status), so that with S3-managed encryption its ETag (the body's MD5) tells the status without
 * reading the object. An ETag that is none of these (another encryption, another body) is read to find out.
 */
export const HEARTBEAT_PREFIX = 'heartbeats/';

/** What a worker reports in its heartbeat; `undefined` when it wrote one without a status we know. */
export type HeartbeatStatus = 'busy' | 'idle' | 'draining' | 'drained';

export interface Heartbeat {
  readonly at: Date;
  readonly status?: HeartbeatStatus;
  /**
   * Set when the heartbeat is listed but could not be read (the error's name: an archived object's
   * InvalidObjectState, a key the reader does not hold): its status is unknown, and says nothing of the worker.
   */
  readonly unreadable?: string;
}

const STATUSES: readonly HeartbeatStatus[] = ['busy', 'idle', 'draining', 'drained'];

const md5 = (body: string) => createHash('md5').update(body).digest('hex');

/** Status by the ETag of a body that is the status word alone; `alive` (no busy signal) is a fresh beat, no status. */
export const HEARTBEAT_STATUS_BY_ETAG: ReadonlyMap<string, HeartbeatStatus | undefined> = new Map([
  ...STATUSES.map((status) => [md5(status), status] as const),
  [md5('alive'), undefined],
]);

/** Where the worker role's session on an instance writes its heartbeat (`aws:userid` is `<role-id>:<instance-id>`). */
export const heartbeatKey = (roleId: string, instanceId: string) =>
  `${HEARTBEAT_PREFIX}${roleId}:${instanceId}`;

/**
 * The instance a heartbeat key belongs to, or undefined for any key but `heartbeats/<role-id>:<instance-id>` of
 * this worker role: a key another principal wrote (an older agent's `heartbeats/<instance-id>`, another role's
 * session) says nothing about a worker.
 */
export function heartbeatInstance(key: string, roleId: string): string | undefined {
  const prefix = `${HEARTBEAT_PREFIX}${roleId}:`;
  const instanceId = key.slice(prefix.length);
  return key.startsWith(prefix) && /^i-[0-9a-f]{8,17}$/.test(instanceId) ? instanceId : undefined;
}

/** A heartbeat body's status: its first word, or a JSON document's `status`; undefined for anything else. */
export function heartbeatStatus(body: string): HeartbeatStatus | undefined {
  const word = body.trim().split(/\s/)[0] ?? '';
  if ((STATUSES as readonly string[]).includes(word)) return word as HeartbeatStatus;
  try {
    const parsed = JSON.parse(body) as { status?: unknown };
    return STATUSES.find((status) => status === parsed.status);
  } catch {
    return undefined;
  }
}
