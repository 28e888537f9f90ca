/**
 * The main job, locally (`npm start`): starts the emulator, deploys the real stack into it with `serverless deploy`,
 * then runs the fleet's story through the real handlers, in process, with the events the deployed rules deliver:
 * launch, workers' accesses, a spot warning and its redelivery, idle workers reaped, an access log file parsed.
 * Prints a timeline and a summary read back from the emulator; exits non-zero when a step did not have its effect.
 * `--keep` leaves the emulator running for `serverless invoke local` and the CLI.
 */
import './quiet-sdk-node-warning';
import './text-modules';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { stringify } from 'yaml';
import { TAG } from '../src/model/tags';
import { accessLogLine, workerSession } from './access-log';
import { seedAccount } from './account';
import { Emulator, emulatorClientConfig } from './emulator';
import { type BusEvent, type Delivery, EventRouter } from './event-router';
import { createQueue, drainQueue } from './queues';
import { runServerless } from './serverless-cli';
import { check, Timeline } from './timeline';

const STAGE = 'local';
const STACK = `worker-fleet-${STAGE}`;
const FLEET = 'batch';
const TARGET_CAPACITY = 4;
const ROOT = join(__dirname, '..');
const ACCOUNT_ID = '123456789012';

const sample = (name: string) => JSON.parse(readFileSync(join(ROOT, 'events', `${name}.json`), 'utf8'));

/** The deployed functions, by the name serverless.yml gives them, and the handler module each runs. */
const FUNCTIONS = {
  launchWorkers: () => import('../src/handlers/launch-workers'),
  handleSpotInterruption: () => import('../src/handlers/spot-interruption'),
  reapIdleWorkers: () => import('../src/handlers/reap-idle-workers'),
  logS3Access: () => import('../src/handlers/log-s3-access'),
} as const;
type FunctionName = keyof typeof FUNCTIONS;

const contextFor = (fn: FunctionName) =>
  ({ awsRequestId: randomUUID(), functionName: `${STACK}-${fn}` }) as Context;

/** One PutObject a worker made to the fleet bucket, as CloudTrail's data event delivers it through EventBridge. */
function cloudTrailPutObject(bucket: string, role: string, instanceId: string, key: string): BusEvent {
  const template = sample('s3-cloudtrail-get-object');
  const now = new Date();
  const detail = template.detail;
  detail.userIdentity.principalId = `AROA3EXAMPLEWORKERROLE:${instanceId}`;
  detail.userIdentity.arn = workerSession(role, instanceId, ACCOUNT_ID);
  detail.userIdentity.sessionContext.sessionIssuer.arn = `arn:aws:iam::${ACCOUNT_ID}:role/${role}`;
  detail.userIdentity.sessionContext.sessionIssuer.userName = role;
  detail.eventTime = now.toISOString().replace(/\.\d+Z$/, 'Z');
  detail.eventName = 'PutObject';
  detail.readOnly = false;
  detail.requestParameters = { bucketName: bucket, Host: `${bucket}.s3.us-east-1.amazonaws.com`, key };
  detail.additionalEventData.bytesTransferredIn = 1024;
  detail.additionalEventData.bytesTransferredOut = 0;
  detail.requestID = randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase();
  detail.eventID = randomUUID();
  detail.resources = [
    { type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${bucket}/${key}` },
    { accountId: ACCOUNT_ID, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${bucket}` },
  ];
  return { source: template.source, 'detail-type': template['detail-type'], detail, time: now };
}

/** An EC2 sample event (events/<name>.json), about one of this run's instances. */
function instanceEvent(name: string, instanceId: string): BusEvent {
  const template = sample(name);
  return {
    source: template.source,
    'detail-type': template['detail-type'],
    resources: [`arn:aws:ec2:us-east-1:${ACCOUNT_ID}:instance/${instanceId}`],
    detail: { ...template.detail, 'instance-id': instanceId },
  };
}

/** A scheduled event as the deployed schedule rule would send it (the emulator never fires schedules). */
function scheduledEvent(ruleArn: string): Delivery['event'] {
  return {
    ...sample('launch-schedule'),
    id: randomUUID(),
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    resources: [ruleArn],
  };
}

async function main(keep: boolean): Promise<void> {
  const timeline = new Timeline();
  timeline.progress('starting the local AWS emulator');
  const emulator = await Emulator.start();
  try {
    const settings = emulatorClientConfig(emulator);
    const ec2 = new EC2Client(settings);
    const s3 = new S3Client({ ...settings, forcePathStyle: true });
    const sqs = new SQSClient(settings);
    const account = await seedAccount(ec2);
    timeline.progress(
      'emulator ready',
      `${emulator.endpoint} (AMI ${account.imageId}, ${account.subnets.length} default subnets)`,
    );

    // A fleet whose idle workers go at once: no boot grace, terminated at the run after the one that marks them.
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
          idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 0, terminateAfterMinutes: 0, minWorkers: 2 },
        },
      }),
    );
    timeline.progress('deploying the stack with serverless deploy', `stage ${STAGE}`);
    const deploy = await runServerless(emulator, ['deploy', '--stage', STAGE, '--region', 'us-east-1'], {
      WORKER_FLEET_FLEETS_FILE: fleetsFile,
    });
    check(deploy.code === 0, `serverless deploy failed:\n${deploy.output}`);
    const listed = await new CloudFormationClient(settings).send(
      new ListStackResourcesCommand({ StackName: STACK }),
    );
    timeline.progress('stack deployed', `${STACK}, ${listed.StackResourceSummaries?.length} resources`);

    // The handlers run in this process with the environment the deployed functions have.
    const lambda = new LambdaClient(settings);
    const environments = await Promise.all(
      Object.keys(FUNCTIONS).map(async (fn) => {
        const found = await lambda.send(
          new GetFunctionConfigurationCommand({ FunctionName: `${STACK}-${fn}` }),
        );
        return found.Environment?.Variables ?? {};
      }),
    );
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
    });
    const fleetBucket = environment.WORKER_FLEET_FLEET_BUCKET ?? '';
    const logBucket = environment.WORKER_FLEET_LOG_BUCKET ?? '';
    const workerRole = environment.WORKER_FLEET_WORKER_ROLE ?? '';

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
    const published: { kind: string; subject: string }[] = [];
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
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: logBucket,
        NotificationConfiguration: { EventBridgeConfiguration: {} },
      }),
    );
    timeline.progress('rules routed', `${router.rules.length} deployed rules deliver to the handlers here`);

    /** Puts events on the bus and returns what the deployed rules delivered, failing unless only `fn` got them. */
    const deliver = async (fn: FunctionName, count: number, ...events: BusEvent[]) => {
      if (events.length > 0) await router.put(...events);
      const deliveries = await router.deliveries();
      check(
        deliveries.length === count &&
          deliveries.every((delivery) => delivery.functionName === `${STACK}-${fn}`),
        `expected ${count} deliveries to ${fn}, the rules delivered ${JSON.stringify(
          deliveries.map((delivery) => [delivery.rule, delivery.event['detail-type']]),
        )}`,
      );
      return deliveries;
    };
    const fleetInstances = async () => {
      const described = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${TAG.managedBy}`, Values: [STACK] },
            { Name: `tag:${TAG.fleet}`, Values: [FLEET] },
          ],
        }),
      );
      return (described.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    };

    // 1. The schedule fires: the fleet is launched.
    const launcher = await FUNCTIONS.launchWorkers();
    const launchSchedule = router.scheduleOf(`${STACK}-launchWorkers`);
    const [launched] = await launcher.handler(
      scheduledEvent(launchSchedule.arn),
      contextFor('launchWorkers'),
    );
    check(
      launched?.launched.length === TARGET_CAPACITY,
      `expected ${TARGET_CAPACITY} workers, got ${JSON.stringify(launched)}`,
    );
    const workers = launched.launched;
    // Read from the requests: the emulator shows the profile on the first instance of each request only.
    const profiles = new Set(
      emulator.sent('RunInstances').map(({ params }) => params.get('IamInstanceProfile.Name')),
    );
    check(
      profiles.size === 1 && profiles.has(environment.WORKER_FLEET_INSTANCE_PROFILE ?? ''),
      `workers launched without the instance profile: ${[...profiles].join(', ')}`,
    );
    const launchNotices = await newNotifications();
    timeline.record(
      '1. schedule fired',
      `launched ${workers.length} workers for fleet ${FLEET} (${launchSchedule.schedule}) with the instance profile (${launchNotices.length} SNS)`,
      workers.map((worker) => worker.instanceId),
    );

    // 2. Workers write heartbeats and results; CloudTrail's data events reach logS3Access through the deployed rule.
    const [interrupted, quiet1, quiet2, busy] = workers;
    check(
      interrupted !== undefined && quiet1 !== undefined && quiet2 !== undefined && busy !== undefined,
      'four workers',
    );
    const heartbeatOf = (id: string) =>
      id === quiet1.instanceId || id === quiet2.instanceId ? 'idle' : 'busy';
    const writes = workers.flatMap((worker) => [
      {
        instanceId: worker.instanceId,
        key: `heartbeats/${worker.instanceId}`,
        body: heartbeatOf(worker.instanceId),
      },
      {
        instanceId: worker.instanceId,
        key: `results/${worker.instanceId}/part-0.json`,
        body: '{"rows":1024}',
      },
    ]);
    const wroteAt = new Date();
    for (const write of writes) {
      await s3.send(new PutObjectCommand({ Bucket: fleetBucket, Key: write.key, Body: write.body }));
    }
    const trail = await deliver(
      'logS3Access',
      writes.length,
      ...writes.map((write) => cloudTrailPutObject(fleetBucket, workerRole, write.instanceId, write.key)),
    );
    const access = await FUNCTIONS.logS3Access();
    let attributed = 0;
    for (const delivery of trail) {
      const result = await access.handler(delivery.event, contextFor('logS3Access'));
      check(result.records === 1, `CloudTrail event not logged: ${JSON.stringify(result)}`);
      attributed += result.attributed;
    }
    check(attributed === writes.length, `${attributed} of ${writes.length} accesses attributed to workers`);
    timeline.record(
      '2. workers wrote',
      `${workers.length} heartbeats (2 idle, 2 busy) and ${workers.length} results; ${attributed} of ${writes.length} accesses logged and attributed`,
      workers.map((worker) => worker.instanceId),
    );

    // 3. A spot interruption warning for one worker: notification, draining event, one replacement elsewhere.
    const spot = await FUNCTIONS.handleSpotInterruption();
    const [warning] = await deliver(
      'handleSpotInterruption',
      1,
      instanceEvent('spot-interruption-warning', interrupted.instanceId),
    );
    check(warning !== undefined, 'the warning was delivered');
    const handled = await spot.handler(warning.event, contextFor('handleSpotInterruption'));
    const replacement = handled.replacement;
    const [replacementId] = replacement?.instanceIds ?? [];
    const [replacementPool] = replacement?.pools ?? [];
    check(
      handled.status === 'replaced' && replacement?.instanceIds.length === 1 && replacementId !== undefined,
      `the warning did not replace the worker: ${JSON.stringify(handled)}`,
    );
    check(
      replacementPool !== undefined &&
        (replacementPool.instanceType !== interrupted.instanceType ||
          replacementPool.subnetId !== interrupted.subnetId),
      `the replacement went into the interrupted pool: ${JSON.stringify(replacementPool)}`,
    );
    const warningNotices = await newNotifications();
    check(warningNotices.length >= 1, 'no notification was published for the warning');
    const draining = await fleetEvents();
    check(
      draining.some(
        (event) =>
          event['detail-type'] === 'Worker Draining' &&
          JSON.stringify(event.detail).includes(interrupted.instanceId),
      ),
      `no Worker Draining event for ${interrupted.instanceId}: ${JSON.stringify(draining)}`,
    );
    timeline.record(
      '3. spot warning',
      `notified (${warningNotices.length} SNS), Worker Draining sent, replaced in ${replacementPool.instanceType}/${replacementPool.subnetId} (was ${interrupted.instanceType}/${interrupted.subnetId})`,
      [interrupted.instanceId, replacementId],
    );

    // 4. EventBridge delivers the same warning again: nothing more happens.
    const before = (await fleetInstances()).length;
    const again = await spot.handler(warning.event, contextFor('handleSpotInterruption'));
    const after = (await fleetInstances()).length;
    const againNotices = await newNotifications();
    const againEvents = await fleetEvents();
    check(
      again.status === 'duplicate' &&
        after === before &&
        againNotices.length === 0 &&
        againEvents.length === 0,
      `the redelivered warning had an effect: ${JSON.stringify({ again, before, after, againNotices, againEvents })}`,
    );
    timeline.record('4. warning redelivered', 'duplicate: nothing launched, published or sent', [
      interrupted.instanceId,
    ]);

    // EC2 reclaims the interrupted worker two minutes later; the state change reaches the same function.
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [interrupted.instanceId] }));
    const [reclaimed] = await deliver(
      'handleSpotInterruption',
      1,
      instanceEvent('instance-state-change-terminated', interrupted.instanceId),
    );
    check(reclaimed !== undefined, 'the state change was delivered');
    const ended = await spot.handler(reclaimed.event, contextFor('handleSpotInterruption'));
    check(
      ended.status === 'duplicate' && (await fleetInstances()).length === after,
      `the reclaimed worker was replaced again: ${JSON.stringify(ended)}`,
    );
    await s3.send(
      new PutObjectCommand({ Bucket: fleetBucket, Key: `heartbeats/${replacementId}`, Body: 'busy' }),
    );
    timeline.record('   EC2 reclaimed', 'terminated by EC2; already replaced, nothing launched', [
      interrupted.instanceId,
    ]);

    // 5. Two workers report idle: the reaper's first run marks them, its next run terminates them.
    const reaper = await FUNCTIONS.reapIdleWorkers();
    const reapSchedule = router.scheduleOf(`${STACK}-reapIdleWorkers`);
    const idleIds = [quiet1.instanceId, quiet2.instanceId].sort();
    const ids = (list: readonly { instanceId: string }[] = []) =>
      list.map((worker) => worker.instanceId).sort();
    const [firstRun] = await reaper.handler(scheduledEvent(reapSchedule.arn), contextFor('reapIdleWorkers'));
    check(
      JSON.stringify(ids(firstRun?.marked)) === JSON.stringify(idleIds) && firstRun?.terminated.length === 0,
      `reaper run 1 should mark ${idleIds.join(' ')}: ${JSON.stringify(firstRun)}`,
    );
    const markNotices = await newNotifications();
    timeline.record(
      '5. reaper run 1',
      `marked ${idleIds.length} idle workers, heartbeat reports idle (${markNotices.length} SNS)`,
      idleIds,
    );
    const [secondRun] = await reaper.handler(scheduledEvent(reapSchedule.arn), contextFor('reapIdleWorkers'));
    check(
      JSON.stringify(ids(secondRun?.terminated)) === JSON.stringify(idleIds),
      `reaper run 2 should terminate ${idleIds.join(' ')}: ${JSON.stringify(secondRun)}`,
    );
    const reapNotices = await newNotifications();
    timeline.record(
      '   reaper run 2',
      `terminated ${idleIds.length} idle workers (${reapNotices.length} SNS); ${busy.instanceId} and the replacement kept`,
      idleIds,
    );

    // 6. S3 delivers the fleet bucket's access log: the emulator's S3 event reaches logS3Access through its rule.
    const logKey = `fleet/${new Date().toISOString().slice(0, 19).replaceAll(/[T:]/g, '-')}-5A7E1B3C9D2F4E60`;
    const lines = writes.map((write, n) =>
      accessLogLine({
        bucket: fleetBucket,
        time: wroteAt,
        requester: workerSession(workerRole, write.instanceId, ACCOUNT_ID),
        operation: 'REST.PUT.OBJECT',
        key: write.key,
        status: 200,
        bytes: write.body.length,
        remoteIp: `10.0.0.${n + 10}`,
        requestId: `LOCAL${String(n).padStart(11, '0')}`,
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: logBucket, Key: logKey, Body: `${lines.join('\n')}\n` }));
    const [logDelivered] = await deliver('logS3Access', 1);
    check(logDelivered !== undefined, 'the log file was delivered');
    const logged = await access.handler(logDelivered.event, contextFor('logS3Access'));
    check(
      logged.records === lines.length && logged.attributed === lines.length && logged.malformed === 0,
      `access log: ${JSON.stringify(logged)}`,
    );
    timeline.record(
      '6. access log landed',
      `${logged.records} lines parsed, ${logged.attributed} attributed to workers (s3://${logBucket}/${logKey})`,
    );

    // The summary, read back from the emulator: the fleet as the operator CLI shows it, and what was published.
    const status: string[] = [];
    // Imported here: the core's logger reads its level from the environment the deployed functions set above.
    const { runCli } = await import('../src/cli/main');
    const statusCode = await runCli(['status', '--fleet', FLEET, '--stage', STAGE], {
      out: (text) => status.push(text),
      err: (text) => status.push(text),
    });
    check(statusCode === 0, `worker-fleet status failed: ${status.join('\n')}`);
    await newNotifications();
    const instances = await fleetInstances();
    const counted = (keep: (instance: (typeof instances)[number]) => boolean) =>
      instances.filter(keep).length;
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
    console.log(`\nnpx worker-fleet status --fleet ${FLEET} --stage ${STAGE}\n${status.join('\n')}\n`);
    console.log('SNS messages published to the fleet topic:');
    console.table(published);
    console.log(
      `summary: fleet ${FLEET}: ${figures.launched} workers launched, ${figures.interrupted} interrupted, ` +
        `${figures.replacements} replacement, ${figures.idleTerminated} idle terminated, ${figures.running} running; ` +
        `${published.length} SNS messages`,
    );

    if (keep) {
      timeline.progress('emulator kept running', 'press Ctrl-C to stop it');
      console.log(
        [
          '',
          `  export AWS_ENDPOINT_URL=${emulator.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1`,
          `  export WORKER_FLEET_FLEETS_FILE=${fleetsFile}`,
          `  npx serverless invoke local -f launchWorkers -p events/launch-direct.json --stage ${STAGE}`,
          `  npx serverless invoke local -f reapIdleWorkers -p events/reap-direct.json --stage ${STAGE}`,
          `  npx worker-fleet status --fleet ${FLEET} --stage ${STAGE}`,
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    timeline.progress('done');
  } finally {
    await emulator.stop();
    emulator.assertNoUnimplementedCalls();
  }
}

main(process.argv.includes('--keep')).catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
