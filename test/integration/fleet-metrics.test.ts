import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTagsCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { workerSession } from '../../local/access-log';
import { lambdaContext } from '../../local/lambda-context';
import type { FleetLaunchResult } from '../../src/fleet/launch-workers';
import type { FleetReapResult } from '../../src/fleet/reap-idle-workers';
import { FLEET_METRICS, type FleetMetricName, METRIC_NAMESPACE } from '../../src/model/fleet-metrics';
import { heartbeatKey } from '../../src/model/heartbeat';
import { NOTIFICATION_DETAIL_TYPES, type NotificationKind } from '../../src/model/notification';
import { TAG } from '../../src/model/tags';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
const context = (name: string) => lambdaContext(`worker-fleet-test-${name}`, 60_000, `request-${name}`);
const sample = (name: string) => JSON.parse(readFileSync(join(__dirname, '../../events', name), 'utf8'));

/** An embedded-metric document as a function writes it to its log. */
interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/** Every line the functions log that is an embedded-metric document (Powertools writes them with console.log). */
function captureEmf(): () => EmfDocument[] {
  const documents: EmfDocument[] = [];
  jest.spyOn(console, 'log').mockImplementation((line: unknown) => {
    const parsed = typeof line === 'string' && line.startsWith('{') ? JSON.parse(line) : undefined;
    if (parsed?._aws !== undefined) documents.push(parsed as EmfDocument);
  });
  return () => documents.splice(0);
}

/**
 * What is wrong with a document: a metric not on the list, another unit, other dimensions than its definition's,
 * another namespace, or a dimension without a value. Empty when it is as the dashboard and alarms expect it.
 */
function emfProblems(document: EmfDocument): string[] {
  const problems: string[] = [];
  for (const directive of document._aws.CloudWatchMetrics) {
    if (directive.Namespace !== METRIC_NAMESPACE) problems.push(`namespace ${directive.Namespace}`);
    for (const dimensions of directive.Dimensions) {
      for (const name of dimensions)
        if (typeof document[name] !== 'string') problems.push(`dimension ${name} without a value`);
    }
    for (const { Name, Unit } of directive.Metrics) {
      const definition = FLEET_METRICS[Name as FleetMetricName];
      if (definition === undefined) {
        problems.push(`${Name} is not on the list`);
        continue;
      }
      if (Unit !== definition.unit) problems.push(`${Name} in ${Unit}`);
      for (const dimensions of directive.Dimensions) {
        if (!definition.dimensions.some((set) => set.join() === dimensions.join()))
          problems.push(`${Name} by ${dimensions.join('+')}`);
      }
    }
  }
  return problems;
}

/** The values one story step's documents give a fleet (and market), by metric name. */
function valuesOf(
  documents: readonly EmfDocument[],
  fleet: string,
  market?: string,
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const document of documents.filter((d) => d.fleet === fleet && d.market === market)) {
    for (const { Name } of document._aws.CloudWatchMetrics.flatMap((directive) => directive.Metrics))
      values[Name] = document[Name];
  }
  return values;
}

let world: FleetWorld;

describe('the metrics and notification events of a fleet story, through the handlers', () => {
  it('launches, replaces an interrupted worker, reaps idle ones and alerts on an access, measuring each step', async () => {
    world = await createFleetWorld(emulator());
    const fleets = {
      batch: {
        ami: world.imageId,
        instanceTypes: ['c7g.large', 'm7g.large'],
        subnets: world.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
        market: 'spot',
        targetCapacity: 2,
        // No agent reports drained here: a worker due is terminated by the run that finds it due.
        drainGraceMinutes: 0,
        idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 0, terminateAfterMinutes: 10, minWorkers: 0 },
      },
    };
    const service = world.config(fleets).managedBy;
    await world.storeFleets(fleets);
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: emulator().endpoint,
      ...world.env(),
      // The tests run Powertools in dev mode, which turns metrics off unless told otherwise.
      POWERTOOLS_METRICS_DISABLED: 'false',
    });
    const emf = captureEmf();
    // Loaded as Lambda loads them: once the function's environment is set.
    const launchWorkers = (await import('../../src/handlers/launch-workers')).handler;
    const spotInterruption = (await import('../../src/handlers/spot-interruption')).handler;
    const reapIdleWorkers = (await import('../../src/handlers/reap-idle-workers')).handler;
    const logS3Access = (await import('../../src/handlers/log-s3-access')).handler;

    // Launch: two spot workers, from none.
    const [launched] = (await launchWorkers(
      { fleet: 'batch', requestId: 'story-launch' },
      context('launchWorkers'),
    )) as FleetLaunchResult[];
    const [interrupted, kept] = (launched?.launched ?? []).map((worker) => worker.instanceId);
    const launch = emf();
    expect(launch.flatMap(emfProblems)).toEqual([]);
    expect(launch.every((document) => document.service === service)).toBe(true);
    expect(valuesOf(launch, 'batch')).toEqual({
      WorkersRunning: 0,
      WorkersTarget: 2,
      WorkersShort: 2,
      LaunchShortfall: 0,
      OnDemandFallbacks: 0,
      WorkersLaunched: 2,
    });
    expect(valuesOf(launch, 'batch', 'spot')).toEqual({ WorkersRunning: 0, WorkersLaunched: 2 });
    expect(valuesOf(launch, 'batch', 'on-demand')).toEqual({ WorkersRunning: 0 });

    // Interruption: the warning's worker is replaced, in another pool.
    const warning = sample('spot-interruption-warning.json');
    warning.time = new Date().toISOString();
    warning.detail['instance-id'] = interrupted;
    emulator().requests.length = 0;
    const replaced = await spotInterruption(warning, context('handleSpotInterruption'));
    expect(replaced).toMatchObject({ status: 'replaced' });
    // The warning's event never goes before its SNS message: it is put once the message is out.
    const requests = emulator().requests;
    const published = requests.findIndex(
      (request) => request.action === 'Publish' && request.body.includes('spot-interruption'),
    );
    const put = requests.findIndex(
      (request) =>
        request.action === 'PutEvents' &&
        request.body.includes(NOTIFICATION_DETAIL_TYPES['spot-interruption']),
    );
    expect(published).toBeGreaterThanOrEqual(0);
    expect(put).toBeGreaterThan(published);
    const interruption = emf();
    expect(interruption.flatMap(emfProblems)).toEqual([]);
    expect(valuesOf(interruption, 'batch')).toEqual({
      WorkersRunning: 1,
      WorkersTarget: 2,
      WorkersShort: 1,
      LaunchShortfall: 0,
      OnDemandFallbacks: 0,
      Interruptions: 1,
      WorkersLaunched: 1,
      Replacements: 1,
      ReplacementLatency: expect.any(Number),
    });
    expect(valuesOf(interruption, 'batch').ReplacementLatency).toBeGreaterThanOrEqual(0);
    expect(valuesOf(interruption, 'batch').ReplacementLatency).toBeLessThan(60_000);
    expect(valuesOf(interruption, 'batch', 'spot')).toEqual({
      WorkersRunning: 1,
      WorkersLaunched: 1,
      Replacements: 1,
    });

    // Idle reaping: EC2 has reclaimed the interrupted worker; the two left report idle, one of them marked an
    // hour ago (by an earlier run): that one is terminated, the other marked.
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [interrupted ?? ''] }));
    const replacement = replaced.replacement?.instanceIds[0] ?? '';
    for (const instanceId of [kept ?? '', replacement]) {
      await world.s3.send(
        new PutObjectCommand({
          Bucket: world.fleetBucket,
          Key: heartbeatKey(world.workerRoleId, instanceId),
          Body: 'idle',
        }),
      );
    }
    await world.ec2.send(
      new CreateTagsCommand({
        Resources: [kept ?? ''],
        Tags: [
          { Key: TAG.idleSince, Value: new Date(Date.now() - 60 * 60_000).toISOString() },
          { Key: TAG.idleReason, Value: 'heartbeat' },
        ],
      }),
    );
    // A reap request (not a drain): the handler answers with the fleets' results.
    const [reaped] = (await reapIdleWorkers(
      { fleet: 'batch' },
      context('reapIdleWorkers'),
    )) as FleetReapResult[];
    expect(reaped?.terminated.map((worker) => worker.instanceId)).toEqual([kept]);
    const reaping = emf();
    expect(reaping.flatMap(emfProblems)).toEqual([]);
    expect(valuesOf(reaping, 'batch')).toEqual({
      IdleMarked: 1,
      IdleTerminated: 1,
      IdleKeptByProtection: 0,
      IdleKeptByFloor: 0,
      WorkersAboveMax: 0,
    });

    // Access alert: the replacement's credentials, taken through IMDSv1, read the fleet bucket.
    const trail = sample('s3-cloudtrail-get-object.json');
    trail.detail.userIdentity.arn = workerSession(world.workerRoleName, replacement);
    trail.detail.userIdentity.sessionContext.ec2RoleDelivery = '1.0';
    trail.detail.requestParameters.bucketName = world.fleetBucket;
    trail.detail.eventTime = new Date().toISOString();
    const access = await logS3Access(trail, context('logS3Access'));
    expect(access.alerts).toEqual([expect.objectContaining({ kind: 'imdsv1-credentials' })]);
    const accessed = emf();
    expect(accessed.flatMap(emfProblems)).toEqual([]);
    expect(valuesOf(accessed, 'batch')).toEqual({ AccessRecords: 1, AccessAlerts: 1 });

    // Every notification of the story is also an event on the bus: its kind's detail-type, the same fields.
    const notifications = await world.notifications();
    const events = await world.notificationEvents();
    const kinds = notifications.map((notification) => notification.kind as NotificationKind);
    expect(new Set(kinds)).toEqual(
      new Set([
        'launch',
        'spot-interruption',
        'replacement',
        'idle-warning',
        'idle-terminated',
        'imdsv1-credentials',
      ]),
    );
    expect(events).toHaveLength(notifications.length);
    for (const notification of notifications) {
      expect(events).toContainEqual({
        source: 'worker-fleet',
        detailType: NOTIFICATION_DETAIL_TYPES[notification.kind as NotificationKind],
        detail: { ...notification.body, subject: notification.subject },
      });
    }
  }, 120_000);
});
