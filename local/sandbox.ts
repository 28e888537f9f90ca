/**
 * The main job, locally (`npm start`): starts the emulator, deploys the real stack into it with `serverless deploy`,
 * then runs the fleet's story through the real handlers, in process, with the events the deployed rules deliver:
 * launch, workers' accesses, a spot warning and its redelivery, idle workers reaped, an access log file parsed.
 * Prints a timeline and a summary read back from the emulator; exits non-zero when a step did not have its effect.
 * `--keep` leaves the emulator running for `serverless invoke local` and the CLI.
 *
 * Reading order: `main`, then `setUp` (what every step gets, as a `Story`), then `STEPS` (the story, one step per
 * timeline line), then the summary.
 */
import './text-modules';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  type FunctionConfiguration,
  GetFunctionConfigurationCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { stringify } from 'yaml';
import { formatTable } from '../src/cli/table';
import type { FleetLaunchResult } from '../src/fleet/launch-workers';
import type { FleetReapResult } from '../src/fleet/reap-idle-workers';
import { heartbeatKey } from '../src/model/heartbeat';
import { TAG } from '../src/model/tags';
import { accessLogLine, workerSession } from './access-log';
import { type SeededAccount, seedAccount } from './account';
import { captureEmittedMetrics, type EmfDocument, summarizeMetrics } from './emitted-metrics';
import { Emulator, emulatorClientConfig } from './emulator';
import { type BusEvent, type DeliveredEvent, type Delivery, EventRouter } from './event-router';
import { lambdaContext } from './lambda-context';
import { createQueue, drainQueue } from './queues';
import { runServerless } from './serverless-cli';
import { ACCOUNT_ID, cloudTrailPutObject, instanceEvent, scheduledEvent } from './story-events';
import { check, StepFailed, Timeline } from './timeline';

const STAGE = 'local';
const STACK = `worker-fleet-${STAGE}`;
const FLEET = 'batch';
const TARGET_CAPACITY = 4;

/**
 * The deployed functions, by the name serverless.yml gives them: the handler each is deployed with, and its module.
 * Checked against the deployed stack before the story runs (`checkDeployedFunctions`).
 */
const FUNCTIONS = {
  launchWorkers: {
    handler: 'src/handlers/launch-workers.handler',
    load: () => import('../src/handlers/launch-workers'),
  },
  handleSpotInterruption: {
    handler: 'src/handlers/spot-interruption.handler',
    load: () => import('../src/handlers/spot-interruption'),
  },
  reapIdleWorkers: {
    handler: 'src/handlers/reap-idle-workers.handler',
    load: () => import('../src/handlers/reap-idle-workers'),
  },
  logS3Access: {
    handler: 'src/handlers/log-s3-access.handler',
    load: () => import('../src/handlers/log-s3-access'),
  },
} as const;
type FunctionName = keyof typeof FUNCTIONS;

/** The name a function has in the deployed stack. */
const deployedName = (fn: string) => `${STACK}-${fn}`;

const contextFor = (fn: FunctionName) => lambdaContext(deployedName(fn));

type LaunchedWorker = FleetLaunchResult['launched'][number];

/** The launched workers, by the part each plays in the story. */
interface Cast {
  readonly workers: readonly LaunchedWorker[];
  /** Gets the spot warning and is replaced. */
  readonly interrupted: LaunchedWorker;
  /** The two whose heartbeats report idle, sorted: the reaper marks, then terminates them. */
  readonly quietIds: readonly string[];
  /** Reports busy and is kept. */
  readonly busy: LaunchedWorker;
}

/** One object a worker wrote to the fleet bucket. */
interface Write {
  readonly instanceId: string;
  readonly key: string;
  readonly body: string;
}

/** What a step leaves for the steps after it; `known` reads it back. */
interface Facts {
  cast?: Cast;
  /** The workers' writes and when they were made: the access log S3 delivers later records them. */
  writes?: { readonly list: readonly Write[]; readonly at: Date };
  /** The spot warning as the deployed rule delivered it, so that it can be delivered again. */
  warning?: DeliveredEvent;
  replacementId?: string;
}

/** A fact an earlier step left; a step run out of order stops the run, naming what is missing. */
function known<K extends keyof Facts>(facts: Facts, name: K): NonNullable<Facts[K]> {
  const value = facts[name];
  if (value === undefined) throw new StepFailed(`no ${name} yet: the step that leaves it has not run`);
  return value;
}

/** A message published to the fleet topic, as the topic's subscribed queue received it. */
interface Notice {
  readonly kind: string;
  readonly subject: string;
}

/** What the set-up gives every step: the emulator and its clients, the deployed stack, what is watched. */
interface Story {
  readonly emulator: Emulator;
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly router: EventRouter;
  /** The environment the deployed functions have, which the handlers run with here. */
  readonly environment: Readonly<Record<string, string>>;
  readonly fleetBucket: string;
  readonly logBucket: string;
  readonly workerRole: string;
  /** The worker role's id: workers write under `<role-id>:<instance-id>` (heartbeats/, results/). */
  readonly workerRoleId: string;
  /** The fleets file the stack was deployed with. */
  readonly fleetsFile: string;
  /** The events worker-fleet put on the bus since the last call. */
  readonly fleetEvents: () => Promise<DeliveredEvent[]>;
  /** The messages published to the fleet topic since the last call; each is added to `published`. */
  readonly newNotifications: () => Promise<Notice[]>;
  readonly published: readonly Notice[];
  readonly facts: Facts;
}

/** What a step changed: one timeline line under the step's title. */
interface Change {
  readonly change: string;
  readonly instanceIds?: readonly string[];
}

interface Step {
  readonly title: string;
  readonly run: (story: Story) => Promise<Change>;
}

/** The fleet's story, in order; each step fails the run with a `check` when it did not have its effect. */
const STEPS: readonly Step[] = [
  { title: '1. schedule fired', run: launchFleet },
  { title: '2. workers wrote', run: writeHeartbeatsAndResults },
  { title: '3. spot warning', run: warnOfInterruption },
  { title: '4. warning redelivered', run: redeliverWarning },
  { title: '   EC2 reclaimed', run: reclaimInterrupted },
  { title: '5. reaper run 1', run: markIdleWorkers },
  { title: '   reaper run 2', run: terminateIdleWorkers },
  { title: '6. access log landed', run: deliverAccessLog },
];

async function main(keep: boolean): Promise<void> {
  const timeline = new Timeline();
  timeline.progress('starting the local AWS emulator');
  const emulator = await Emulator.start();
  // What the functions measure goes to their log in Lambda; here, into the summary's table.
  const emitted = captureEmittedMetrics();
  try {
    const story = await setUp(emulator, timeline);
    for (const step of STEPS) {
      const { change, instanceIds } = await step.run(story);
      timeline.record(step.title, change, instanceIds);
    }
    await printSummary(story, emitted.documents);
    if (keep) await keepRunning(story, timeline);
    timeline.progress('done');
  } finally {
    emitted.stop();
    await emulator.stop();
    emulator.assertNoUnimplementedCalls();
  }
}

// The set-up: not part of the fleet's story, printed as progress lines.

async function setUp(emulator: Emulator, timeline: Timeline): Promise<Story> {
  const settings = emulatorClientConfig(emulator);
  const ec2 = new EC2Client(settings);
  const s3 = new S3Client({ ...settings, forcePathStyle: true });
  const sqs = new SQSClient(settings);
  const account = await seedAccount(ec2);
  timeline.progress(
    'emulator ready',
    `${emulator.endpoint} (AMI ${account.imageId}, ${account.subnets.length} default subnets)`,
  );

  const fleetsFile = writeFleetsFile(account);
  timeline.progress('deploying the stack with serverless deploy', `stage ${STAGE}`);
  const deploy = await runServerless(emulator, ['deploy', '--stage', STAGE, '--region', 'us-east-1'], {
    WORKER_FLEET_FLEETS_FILE: fleetsFile,
  });
  check(deploy.code === 0, `serverless deploy failed:\n${deploy.output}`);
  const listed = await new CloudFormationClient(settings).send(
    new ListStackResourcesCommand({ StackName: STACK }),
  );
  timeline.progress('stack deployed', `${STACK}, ${listed.StackResourceSummaries?.length} resources`);

  const functions = await checkDeployedFunctions(
    listed.StackResourceSummaries ?? [],
    new LambdaClient(settings),
  );
  const environment = adoptEnvironment(functions, emulator);
  // The CLI's launch, reap and drain invoke the functions: the proxy runs their handlers here, as the rules' events.
  emulator.lambdaHandlers = new Map(
    Object.entries(FUNCTIONS).map(([fn, { load }]) => [
      deployedName(fn),
      async (event: unknown) => (await load()).handler(event, contextFor(fn as FunctionName)),
    ]),
  );

  // Events go through the deployed rules; the bus, the topic and S3's log deliveries are watched.
  const router = await EventRouter.install(new EventBridgeClient(settings), sqs, `${STACK}-`);
  const fleetEvents = await router.watch('sandbox-worker-fleet-events', { source: ['worker-fleet'] });
  const topicQueue = await createQueue(sqs, 'sandbox-fleet-topic');
  await new SNSClient(settings).send(
    new SubscribeCommand({
      TopicArn: environment.WORKER_FLEET_TOPIC_ARN,
      Protocol: 'sqs',
      Endpoint: topicQueue.arn,
    }),
  );
  const published: Notice[] = [];
  const newNotifications = async () => {
    const fresh = (await drainQueue(sqs, topicQueue.url)).map((body) => {
      const envelope = JSON.parse(body) as {
        Subject?: string;
        MessageAttributes?: Record<string, { Value: string }>;
      };
      return { kind: envelope.MessageAttributes?.kind?.Value ?? '-', subject: envelope.Subject ?? '' };
    });
    published.push(...fresh);
    return fresh;
  };
  const logBucket = environment.WORKER_FLEET_LOG_BUCKET ?? '';
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: logBucket,
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    }),
  );
  timeline.progress('rules routed', `${router.rules.length} deployed rules deliver to the handlers here`);

  return {
    emulator,
    ec2,
    s3,
    router,
    environment,
    fleetBucket: environment.WORKER_FLEET_FLEET_BUCKET ?? '',
    logBucket,
    workerRole: environment.WORKER_FLEET_WORKER_ROLE ?? '',
    workerRoleId: environment.WORKER_FLEET_WORKER_ROLE_ID ?? '',
    fleetsFile,
    fleetEvents,
    newNotifications,
    published,
    facts: {},
  };
}

/** A fleet whose idle workers go at once: no boot grace, terminated at the run after the one that marks them. */
function writeFleetsFile(account: SeededAccount): string {
  const fleetsFile = join(mkdtempSync(join(tmpdir(), 'worker-fleet-')), 'fleets.yml');
  writeFileSync(
    fleetsFile,
    stringify({
      [FLEET]: {
        ami: account.imageId,
        instanceTypes: ['c7g.large', 'm7g.large'],
        subnets: account.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
        market: 'spot-with-on-demand-fallback',
        targetCapacity: TARGET_CAPACITY,
        keyName: account.keyName,
        securityGroupIds: [account.securityGroupId],
        userData: '#!/bin/bash\necho "worker ready"\n',
        // The story's workers run no agent to report drained: reaped idle workers are terminated without a drain.
        drainGraceMinutes: 0,
        idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 0, terminateAfterMinutes: 0, minWorkers: 2 },
      },
    }),
  );
  return fleetsFile;
}

/**
 * The sandbox runs the deployed functions' handlers by FUNCTIONS: the stack must deploy exactly its functions, each
 * with the handler FUNCTIONS imports for it. Returns their deployed configurations.
 */
async function checkDeployedFunctions(
  resources: readonly StackResourceSummary[],
  lambda: LambdaClient,
): Promise<FunctionConfiguration[]> {
  const deployed = resources
    .filter((resource) => resource.ResourceType === 'AWS::Lambda::Function')
    .map((resource) => resource.PhysicalResourceId ?? '');
  const mapped = Object.keys(FUNCTIONS).map(deployedName);
  const unmapped = deployed.filter((name) => !mapped.includes(name));
  const undeployed = mapped.filter((name) => !deployed.includes(name));
  const listed = (names: readonly string[]) => (names.length === 0 ? 'none' : names.join(', '));
  check(
    unmapped.length === 0 && undeployed.length === 0,
    `the sandbox's FUNCTIONS do not match the deployed stack: deployed but not in FUNCTIONS: ${listed(unmapped)}; ` +
      `in FUNCTIONS but not deployed: ${listed(undeployed)}`,
  );
  const functions = await Promise.all(
    Object.entries(FUNCTIONS).map(async ([fn, { handler }]) => {
      const found = await lambda.send(
        new GetFunctionConfigurationCommand({ FunctionName: deployedName(fn) }),
      );
      return { fn, handler, found };
    }),
  );
  const mismatched = functions.filter(({ handler, found }) => found.Handler !== handler);
  check(
    mismatched.length === 0,
    `the sandbox's FUNCTIONS import other handlers than the deployed stack runs: ${mismatched
      .map(
        ({ fn, handler, found }) => `${fn} is deployed with ${found.Handler}, FUNCTIONS imports ${handler}`,
      )
      .join('; ')}`,
  );
  return functions.map(({ found }) => found);
}

/** The handlers run in this process with the environment the deployed functions have: it must be one for all. */
function adoptEnvironment(
  functions: readonly FunctionConfiguration[],
  emulator: Emulator,
): Record<string, string> {
  const environments = functions.map((found) => found.Environment?.Variables ?? {});
  const [environment = {}] = environments;
  check(
    environments.every((other) => JSON.stringify(other) === JSON.stringify(environment)),
    'the deployed functions have different environments; the sandbox runs them in one process',
  );
  Object.assign(process.env, environment, {
    AWS_ENDPOINT_URL: emulator.endpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    // The summary shows what the functions measured, even where POWERTOOLS_DEV (which turns metrics off) is set.
    POWERTOOLS_METRICS_DISABLED: 'false',
  });
  return environment;
}

// The story's steps, in the order of STEPS.

/** 1. The schedule fires: the fleet is launched, every worker with the fleet's instance profile. */
async function launchFleet(story: Story): Promise<Change> {
  const schedule = scheduleOf(story, 'launchWorkers');
  const launcher = await FUNCTIONS.launchWorkers.load();
  const [launched] = (await launcher.handler(
    scheduledEvent(schedule.arn),
    contextFor('launchWorkers'),
  )) as FleetLaunchResult[];
  check(
    launched?.launched.length === TARGET_CAPACITY,
    `expected ${TARGET_CAPACITY} workers, got ${JSON.stringify(launched)}`,
  );
  const workers = launched.launched;
  // Read from the requests: the emulator shows the profile on the first instance of each request only.
  const profiles = new Set(
    story.emulator.sent('RunInstances').map(({ params }) => params.get('IamInstanceProfile.Name')),
  );
  check(
    profiles.size === 1 && profiles.has(story.environment.WORKER_FLEET_INSTANCE_PROFILE ?? ''),
    `workers launched without the instance profile: ${[...profiles].join(', ')}`,
  );
  const [interrupted, quiet1, quiet2, busy] = workers;
  check(
    interrupted !== undefined && quiet1 !== undefined && quiet2 !== undefined && busy !== undefined,
    'four workers',
  );
  story.facts.cast = { workers, interrupted, quietIds: [quiet1.instanceId, quiet2.instanceId].sort(), busy };
  const notices = await story.newNotifications();
  return {
    change: `launched ${workers.length} workers for fleet ${FLEET} (${schedule.schedule}) with the instance profile (${notices.length} SNS)`,
    instanceIds: instanceIdsOf(workers),
  };
}

/** 2. Workers write heartbeats and results; CloudTrail's data events reach logS3Access through the deployed rule. */
async function writeHeartbeatsAndResults(story: Story): Promise<Change> {
  const { workers, quietIds } = known(story.facts, 'cast');
  const writes = workers.flatMap((worker) => [
    {
      instanceId: worker.instanceId,
      key: heartbeatKey(story.workerRoleId, worker.instanceId),
      body: quietIds.includes(worker.instanceId) ? 'idle' : 'busy',
    },
    {
      instanceId: worker.instanceId,
      key: `results/${story.workerRoleId}:${worker.instanceId}/part-0.json`,
      body: '{"rows":1024}',
    },
  ]);
  const at = new Date();
  for (const write of writes) {
    await story.s3.send(
      new PutObjectCommand({ Bucket: story.fleetBucket, Key: write.key, Body: write.body }),
    );
  }
  story.facts.writes = { list: writes, at };
  const trail = await deliver(
    story,
    'logS3Access',
    writes.length,
    ...writes.map((write) =>
      cloudTrailPutObject(story.fleetBucket, story.workerRole, write.instanceId, write.key),
    ),
  );
  const access = await FUNCTIONS.logS3Access.load();
  let attributed = 0;
  for (const delivery of trail) {
    const result = await access.handler(delivery.event, contextFor('logS3Access'));
    check(result.records === 1, `CloudTrail event not logged: ${JSON.stringify(result)}`);
    attributed += result.attributed;
  }
  check(attributed === writes.length, `${attributed} of ${writes.length} accesses attributed to workers`);
  return {
    change: `${workers.length} heartbeats (2 idle, 2 busy) and ${workers.length} results; ${attributed} of ${writes.length} accesses logged and attributed`,
    instanceIds: instanceIdsOf(workers),
  };
}

/** 3. A spot interruption warning for one worker: notification, draining event, one replacement elsewhere. */
async function warnOfInterruption(story: Story): Promise<Change> {
  const { interrupted } = known(story.facts, 'cast');
  const spot = await FUNCTIONS.handleSpotInterruption.load();
  const [warning] = await deliver(
    story,
    'handleSpotInterruption',
    1,
    instanceEvent('spot-interruption-warning', interrupted.instanceId),
  );
  check(warning !== undefined, 'the warning was delivered');
  story.facts.warning = warning.event;
  const handled = await spot.handler(warning.event, contextFor('handleSpotInterruption'));
  const replacement = handled.replacement;
  const [replacementId] = replacement?.instanceIds ?? [];
  const [replacementPool] = replacement?.pools ?? [];
  check(
    handled.status === 'replaced' && replacement?.instanceIds.length === 1 && replacementId !== undefined,
    `the warning did not replace the worker: ${JSON.stringify(handled)}`,
  );
  story.facts.replacementId = replacementId;
  check(
    replacementPool !== undefined &&
      (replacementPool.instanceType !== interrupted.instanceType ||
        replacementPool.subnetId !== interrupted.subnetId),
    `the replacement went into the interrupted pool: ${JSON.stringify(replacementPool)}`,
  );
  const notices = await story.newNotifications();
  check(notices.length >= 1, 'no notification was published for the warning');
  const draining = await story.fleetEvents();
  check(
    draining.some(
      (event) =>
        event['detail-type'] === 'Worker Draining' &&
        JSON.stringify(event.detail).includes(interrupted.instanceId),
    ),
    `no Worker Draining event for ${interrupted.instanceId}: ${JSON.stringify(draining)}`,
  );
  return {
    change: `notified (${notices.length} SNS), Worker Draining sent, replaced in ${replacementPool.instanceType}/${replacementPool.subnetId} (was ${interrupted.instanceType}/${interrupted.subnetId})`,
    instanceIds: [interrupted.instanceId, replacementId],
  };
}

/** 4. EventBridge delivers the same warning again: nothing more happens. */
async function redeliverWarning(story: Story): Promise<Change> {
  const { interrupted } = known(story.facts, 'cast');
  const warning = known(story.facts, 'warning');
  const spot = await FUNCTIONS.handleSpotInterruption.load();
  const before = (await fleetInstances(story)).length;
  const again = await spot.handler(warning, contextFor('handleSpotInterruption'));
  const after = (await fleetInstances(story)).length;
  const againNotices = await story.newNotifications();
  const againEvents = await story.fleetEvents();
  check(
    again.status === 'duplicate' && after === before && againNotices.length === 0 && againEvents.length === 0,
    `the redelivered warning had an effect: ${JSON.stringify({ again, before, after, againNotices, againEvents })}`,
  );
  return { change: 'duplicate: nothing launched, published or sent', instanceIds: [interrupted.instanceId] };
}

/** EC2 reclaims the interrupted worker two minutes later; the state change reaches the same function. */
async function reclaimInterrupted(story: Story): Promise<Change> {
  const { interrupted } = known(story.facts, 'cast');
  const replacementId = known(story.facts, 'replacementId');
  const spot = await FUNCTIONS.handleSpotInterruption.load();
  const before = (await fleetInstances(story)).length;
  await story.ec2.send(new TerminateInstancesCommand({ InstanceIds: [interrupted.instanceId] }));
  // EC2 reclaimed it (moto would say a person terminated it: see Emulator.reclaimed).
  story.emulator.reclaimed.add(interrupted.instanceId);
  const [reclaimed] = await deliver(
    story,
    'handleSpotInterruption',
    1,
    instanceEvent('instance-state-change-terminated', interrupted.instanceId),
  );
  check(reclaimed !== undefined, 'the state change was delivered');
  const ended = await spot.handler(reclaimed.event, contextFor('handleSpotInterruption'));
  check(
    ended.status === 'duplicate' && (await fleetInstances(story)).length === before,
    `the reclaimed worker was replaced again: ${JSON.stringify(ended)}`,
  );
  // The replacement reports busy, so that the reaper keeps it.
  await story.s3.send(
    new PutObjectCommand({
      Bucket: story.fleetBucket,
      Key: heartbeatKey(story.workerRoleId, replacementId),
      Body: 'busy',
    }),
  );
  return {
    change: 'terminated by EC2; already replaced, nothing launched',
    instanceIds: [interrupted.instanceId],
  };
}

/** 5. Two workers report idle: the reaper's first run marks them... */
async function markIdleWorkers(story: Story): Promise<Change> {
  const { quietIds } = known(story.facts, 'cast');
  const run = await runReaper(story);
  check(
    JSON.stringify(sortedIds(run?.marked)) === JSON.stringify(quietIds) && run?.terminated.length === 0,
    `reaper run 1 should mark ${quietIds.join(' ')}: ${JSON.stringify(run)}`,
  );
  const notices = await story.newNotifications();
  return {
    change: `marked ${quietIds.length} idle workers, heartbeat reports idle (${notices.length} SNS)`,
    instanceIds: quietIds,
  };
}

/** ...and its next run terminates them, keeping the busy worker and the replacement. */
async function terminateIdleWorkers(story: Story): Promise<Change> {
  const { quietIds, busy } = known(story.facts, 'cast');
  const run = await runReaper(story);
  check(
    JSON.stringify(sortedIds(run?.terminated)) === JSON.stringify(quietIds),
    `reaper run 2 should terminate ${quietIds.join(' ')}: ${JSON.stringify(run)}`,
  );
  const notices = await story.newNotifications();
  return {
    change: `terminated ${quietIds.length} idle workers (${notices.length} SNS); ${busy.instanceId} and the replacement kept`,
    instanceIds: quietIds,
  };
}

/** 6. S3 delivers the fleet bucket's access log: the emulator's S3 event reaches logS3Access through its rule. */
async function deliverAccessLog(story: Story): Promise<Change> {
  const writes = known(story.facts, 'writes');
  const logKey = `fleet/${new Date().toISOString().slice(0, 19).replaceAll(/[T:]/g, '-')}-5A7E1B3C9D2F4E60`;
  const lines = writes.list.map((write, n) =>
    accessLogLine({
      bucket: story.fleetBucket,
      time: writes.at,
      requester: workerSession(story.workerRole, write.instanceId, ACCOUNT_ID),
      operation: 'REST.PUT.OBJECT',
      key: write.key,
      status: 200,
      bytes: write.body.length,
      remoteIp: `10.0.0.${n + 10}`,
      requestId: `LOCAL${String(n).padStart(11, '0')}`,
    }),
  );
  await story.s3.send(
    new PutObjectCommand({ Bucket: story.logBucket, Key: logKey, Body: `${lines.join('\n')}\n` }),
  );
  const [delivered] = await deliver(story, 'logS3Access', 1);
  check(delivered !== undefined, 'the log file was delivered');
  const access = await FUNCTIONS.logS3Access.load();
  const logged = await access.handler(delivered.event, contextFor('logS3Access'));
  check(
    logged.records === lines.length && logged.attributed === lines.length && logged.malformed === 0,
    `access log: ${JSON.stringify(logged)}`,
  );
  return {
    change: `${logged.records} lines parsed, ${logged.attributed} attributed to workers (s3://${story.logBucket}/${logKey})`,
  };
}

// What the steps share.

const instanceIdsOf = (list: readonly { instanceId: string }[]) => list.map((worker) => worker.instanceId);
const sortedIds = (list: readonly { instanceId: string }[] = []) => instanceIdsOf(list).sort();

/** The deployed schedule rule of a function. */
const scheduleOf = (story: Story, fn: FunctionName) => story.router.scheduleOf(deployedName(fn));

/** One run of the reaper, as its deployed schedule would start it: what it did for the fleet. */
async function runReaper(story: Story) {
  const reaper = await FUNCTIONS.reapIdleWorkers.load();
  const schedule = scheduleOf(story, 'reapIdleWorkers');
  // A schedule's event is a reaper run (not a drain): the handler answers with the fleets' results.
  const [run] = (await reaper.handler(
    scheduledEvent(schedule.arn),
    contextFor('reapIdleWorkers'),
  )) as FleetReapResult[];
  return run;
}

/** Puts events on the bus and returns what the deployed rules delivered, failing unless only `fn` got them. */
async function deliver(
  story: Story,
  fn: FunctionName,
  count: number,
  ...events: BusEvent[]
): Promise<Delivery[]> {
  if (events.length > 0) await story.router.put(...events);
  const deliveries = await story.router.deliveries();
  check(
    deliveries.length === count && deliveries.every((delivery) => delivery.functionName === deployedName(fn)),
    `expected ${count} deliveries to ${fn}, the rules delivered ${JSON.stringify(
      deliveries.map((delivery) => [delivery.rule, delivery.event['detail-type']]),
    )}`,
  );
  return deliveries;
}

/** The fleet's instances in the emulator, terminated ones included. */
async function fleetInstances(story: Story) {
  const described = await story.ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${TAG.managedBy}`, Values: [STACK] },
        { Name: `tag:${TAG.fleet}`, Values: [FLEET] },
      ],
    }),
  );
  return (described.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
}

// After the story.

/**
 * The summary, read back from the emulator: the fleet as the operator CLI shows it, what was published, and the
 * metrics the functions emitted.
 */
async function printSummary(story: Story, metrics: readonly EmfDocument[]): Promise<void> {
  const status: string[] = [];
  // Imported here: the core's logger reads its level from the environment the deployed functions set.
  const { runCli } = await import('../src/cli/main');
  const statusCode = await runCli(['status', '--fleet', FLEET, '--stage', STAGE], {
    out: (text) => status.push(text),
    err: (text) => status.push(text),
  });
  check(statusCode === 0, `worker-fleet status failed: ${status.join('\n')}`);
  await story.newNotifications();
  const instances = await fleetInstances(story);
  const counted = (keep: (instance: (typeof instances)[number]) => boolean) => instances.filter(keep).length;
  const tagged = (instance: (typeof instances)[number], key: string) =>
    instance.Tags?.some((tag) => tag.Key === key) ?? false;
  const figures = {
    launched: instances.length,
    interrupted: counted((instance) => tagged(instance, TAG.interruptedAt)),
    replacements: counted((instance) => tagged(instance, TAG.replaces)),
    idleTerminated: counted(
      (instance) => tagged(instance, TAG.idleSince) && instance.State?.Name === 'terminated',
    ),
    running: counted((instance) => instance.State?.Name === 'running'),
  };
  console.log(`\nnpm run -s cli -- status --fleet ${FLEET} --stage ${STAGE}\n${status.join('\n')}\n`);
  console.log(`SNS messages published to the fleet topic:\n${formatTable(story.published)}\n`);
  console.log(
    `Metrics the functions emitted (namespace WorkerFleet), per fleet:\n${formatTable(summarizeMetrics(metrics))}\n`,
  );
  console.log(
    `summary: fleet ${FLEET}: ${figures.launched} workers launched, ${figures.interrupted} interrupted, ` +
      `${figures.replacements} replacement, ${figures.idleTerminated} idle terminated, ${figures.running} running; ` +
      `${story.published.length} SNS messages`,
  );
}

/** `--keep`: prints what to run against the deployed emulator, and waits for Ctrl-C. */
async function keepRunning(story: Story, timeline: Timeline): Promise<void> {
  timeline.progress('emulator kept running', 'press Ctrl-C to stop it');
  console.log(
    [
      '',
      `  export AWS_ENDPOINT_URL=${story.emulator.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1`,
      `  export WORKER_FLEET_FLEETS_FILE=${story.fleetsFile}`,
      `  npx serverless invoke local -f launchWorkers -p events/launch-direct.json --stage ${STAGE}`,
      `  npx serverless invoke local -f reapIdleWorkers -p events/reap-direct.json --stage ${STAGE}`,
      `  npm run -s cli -- status --fleet ${FLEET} --stage ${STAGE}`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
}

main(process.argv.includes('--keep')).catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
