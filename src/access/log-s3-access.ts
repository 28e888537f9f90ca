import type { Logger } from '@aws-lambda-powertools/logger';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import { notify } from '../aws/notification-event';
import { streamObject } from '../aws/object-stream';
import type { Config } from '../config';
import { parseAccessEvent } from '../events/access';
import type { AccessRecord } from '../model/access-record';
import { type MetricsSink, NO_FLEET } from '../model/fleet-metrics';
import type { Notification } from '../model/notification';
import { type AccessAlert, AccessAlerts } from './access-alerts';
import { accessFromLogEntry } from './access-record';
import { createAttributor, type WorkerLookups } from './attribution';
import { parseServerAccessLog } from './server-access-log';

export interface AccessDependencies {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
  readonly config: Config;
  /** Workers looked up, kept across invocations (the handler's, built once); by default, one invocation's. */
  readonly lookups?: WorkerLookups;
}

/** Where S3 delivers the fleet bucket's server access logs in the log bucket (serverless.yml, LogFilePrefix). */
export const FLEET_ACCESS_LOG_PREFIX = 'fleet/';

/** An input part that could not be read: `event`, or `line <n>` of a log file. */
export interface MalformedInput {
  readonly position: string;
  readonly error: string;
}

export interface AccessRunResult {
  /** `event`, `trail`, or the log file read (`s3://<bucket>/<key>`). */
  readonly input: string;
  readonly records: number;
  /** Records joined with a worker instance. */
  readonly attributed: number;
  readonly malformed: number;
  /** Accesses of another bucket (a log line, a CloudTrail record or an event that is not the fleet bucket's). */
  readonly skipped: number;
  /** The first malformed parts (at most KEPT_MALFORMED), with their position. */
  readonly malformedInputs: readonly MalformedInput[];
  readonly alerts: readonly AccessAlert[];
  /** Why nothing was logged, when the input is not an access worker-fleet watches. */
  readonly ignored?: string;
}

const KEPT_MALFORMED = 20;

const ALERT_SUBJECTS: Readonly<Record<AccessAlert['kind'], (alert: AccessAlert) => string>> = {
  'access-after-termination': (alert) =>
    `worker-fleet: credentials of ${alert.instanceId} used after its termination`,
  'imdsv1-credentials': (alert) =>
    `worker-fleet: ${alert.instanceId ?? alert.principal} took credentials through IMDSv1`,
  'access-denied-burst': (alert) =>
    `worker-fleet: ${alert.count} requests of ${alert.instanceId ?? alert.principal} denied`,
};

/** The state of one run: attribution cache, alerts, counts. */
class AccessRun {
  readonly #attribute: ReturnType<typeof createAttributor>;
  readonly #alerts = new AccessAlerts();
  readonly #malformedInputs: MalformedInput[] = [];
  readonly #skippedBuckets = new Set<string>();
  #records = 0;
  #attributed = 0;
  #malformed = 0;
  #skipped = 0;

  constructor(private readonly deps: AccessDependencies) {
    this.#attribute = createAttributor(deps.ec2, deps.config, deps.lookups);
  }

  async record(record: AccessRecord): Promise<void> {
    const access = await this.#attribute(record);
    this.deps.logger.info('s3 access', { ...access });
    this.#records += 1;
    this.deps.metrics.add('AccessRecords', 1, { fleet: access.fleet ?? NO_FLEET });
    if (access.instanceId !== undefined) this.#attributed += 1;
    this.#alerts.observe(access);
  }

  malformed(position: string, error: string, text?: string): void {
    this.deps.logger.error('malformed access input', { position, error, text });
    this.#malformed += 1;
    if (this.#malformedInputs.length < KEPT_MALFORMED) this.#malformedInputs.push({ position, error });
  }

  /** An access of another bucket: counted, and told at warn once per bucket and input (with where it was first). */
  skip(bucket: string, position: string): void {
    this.#skipped += 1;
    if (this.#skippedBuckets.has(bucket)) return;
    this.#skippedBuckets.add(bucket);
    this.deps.logger.warn('access to another bucket skipped', { bucket, position });
  }

  /** Publishes every alert; a failed publication fails the run (after the others are out) so it is retried. */
  async publishAlerts(): Promise<AccessAlert[]> {
    const alerts = this.#alerts.list();
    const published = await Promise.allSettled(
      alerts.map((alert) => {
        this.deps.logger.warn('access alert', { ...alert });
        this.deps.metrics.add('AccessAlerts', 1, { fleet: alert.fleet ?? NO_FLEET });
        const { kind, fleet, ...details } = alert;
        const notification: Notification = {
          kind,
          ...(fleet === undefined ? {} : { fleet }),
          subject: ALERT_SUBJECTS[kind](alert),
          details,
        };
        return notify(this.deps, this.deps.config.topicArn, notification);
      }),
    );
    const failed = published.filter((outcome) => outcome.status === 'rejected');
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((outcome) => outcome.reason),
        `${failed.length} of ${alerts.length} access alerts could not be published`,
      );
    }
    return alerts;
  }

  async finish(input: string, ignored?: string): Promise<AccessRunResult> {
    return {
      input,
      records: this.#records,
      attributed: this.#attributed,
      malformed: this.#malformed,
      skipped: this.#skipped,
      malformedInputs: [...this.#malformedInputs],
      alerts: await this.publishAlerts(),
      ...(ignored === undefined ? {} : { ignored }),
    };
  }
}

/**
 * Logs the accesses one input reports, attributed to workers, and raises its alerts. The input is an S3 event of the
 * fleet bucket (one access), a CloudTrail data event of it (one access), or an S3 event of a server access log file
 * landing in the log bucket (streamed: one access per line). A malformed event is rejected with an InvalidEventError
 * before any AWS call (docs/errors.md); a malformed line is logged as an error with its position and counted, and
 * never stops the lines around it. An access of another bucket than the fleet bucket (a log line, a CloudTrail
 * record, an event) is never logged as an access: it is counted as skipped and told at warn, since the log bucket
 * should hold the fleet bucket's logs only and the rules route the fleet bucket's events only.
 */
export async function logS3Access(deps: AccessDependencies, event: unknown): Promise<AccessRunResult> {
  const access = parseAccessEvent(event);
  const run = new AccessRun(deps);
  const { config } = deps;
  const { record } = access;
  if (access.kind === 'object-event' && record.bucket === config.logBucket) {
    const input = `s3://${record.bucket}/${record.key}`;
    if (!access.created || !record.key.startsWith(FLEET_ACCESS_LOG_PREFIX)) {
      return run.finish(input, `not a new access log of the fleet bucket (${FLEET_ACCESS_LOG_PREFIX}*)`);
    }
    deps.logger.info('reading access log', { bucket: record.bucket, key: record.key });
    for await (const batch of parseServerAccessLog(streamObject(deps.s3, record.bucket, record.key))) {
      for (const parsed of batch) {
        if ('error' in parsed) run.malformed(`line ${parsed.line}`, parsed.error, parsed.text);
        else if (parsed.entry.bucket !== config.fleetBucket)
          run.skip(parsed.entry.bucket, `line ${parsed.line}`);
        else await run.record(accessFromLogEntry(parsed.entry));
      }
    }
    return run.finish(input);
  }
  if (record.bucket !== config.fleetBucket) {
    run.skip(record.bucket, record.source);
    return run.finish(record.source, `bucket ${record.bucket} is not the fleet bucket`);
  }
  await run.record(record);
  return run.finish(record.source);
}
