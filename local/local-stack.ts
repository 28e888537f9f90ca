/**
 * The main job, locally: starts the emulator, deploys the real stack into it with `serverless deploy`, then fires
 * the schedule (events/launch-schedule.json) at the real launchWorkers handler, in process, twice: the first run
 * brings the fleet to its target, the second finds it full. Exits non-zero if a step did not have its effect.
 * `--keep` leaves the emulator running for `serverless invoke local`.
 */
import './quiet-sdk-node-warning';
import './text-modules';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { parse, stringify } from 'yaml';
import { accessLogLine, workerSession } from './access-log';
import { seedAccount } from './account';
import { Emulator, emulatorClientConfig } from './emulator';
import { runServerless } from './serverless-cli';

const STAGE = 'local';
const ROOT = join(__dirname, '..');
const started = Date.now();

function step(what: string, detail = ''): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
  console.log(`[${seconds}s] ${what}${detail === '' ? '' : `: ${detail}`}`);
}

class StepFailed extends Error {
  override name = 'StepFailed';
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new StepFailed(message);
}

async function main(keep: boolean): Promise<void> {
  step('starting the local AWS emulator');
  const emulator = await Emulator.start();
  try {
    const settings = emulatorClientConfig(emulator);
    const account = await seedAccount(new EC2Client(settings));
    step(
      'emulator ready',
      `${emulator.endpoint} (AMI ${account.imageId}, ${account.subnets.length} default subnets)`,
    );

    const fleetsFile = join(mkdtempSync(join(tmpdir(), 'worker-fleet-')), 'fleets.yml');
    const targetCapacity = 4;
    writeFileSync(
      fleetsFile,
      stringify({
        batch: {
          ami: account.imageId,
          instanceTypes: ['c7g.large', 'm7g.large'],
          subnets: account.subnets.slice(0, 2).map((subnet) => subnet.subnetId),
          market: 'spot-with-on-demand-fallback',
          targetCapacity,
          keyName: account.keyName,
          securityGroupIds: [account.securityGroupId],
          userData: '#!/bin/bash\necho "worker ready"\n',
        },
      }),
    );
    step('deploying the stack with serverless deploy', `stage ${STAGE}`);
    const deploy = await runServerless(emulator, ['deploy', '--stage', STAGE, '--region', 'us-east-1'], {
      WORKER_FLEET_FLEETS_FILE: fleetsFile,
    });
    check(deploy.code === 0, `serverless deploy failed:\n${deploy.output}`);
    // Read from the stack's resources: the emulator does not recompute Outputs after an update.
    const listed = await new CloudFormationClient(settings).send(
      new ListStackResourcesCommand({ StackName: `worker-fleet-${STAGE}` }),
    );
    const physicalId = (logicalId: string) =>
      listed.StackResourceSummaries?.find((resource) => resource.LogicalResourceId === logicalId)
        ?.PhysicalResourceId ?? '';
    const profile = await new IAMClient(settings).send(
      new GetInstanceProfileCommand({ InstanceProfileName: physicalId('WorkerInstanceProfile') }),
    );
    step('stack deployed', `worker-fleet-${STAGE}, ${listed.StackResourceSummaries?.length} resources`);

    // The function's environment, as the deployed stack gives it.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: emulator.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: 'us-east-1',
      WORKER_FLEET_STAGE: STAGE,
      WORKER_FLEET_FLEETS: JSON.stringify(parse(readFileSync(fleetsFile, 'utf8'))),
      WORKER_FLEET_INSTANCE_PROFILE_ARN: profile.InstanceProfile?.Arn ?? '',
      WORKER_FLEET_TOPIC_ARN: physicalId('FleetTopic'),
      WORKER_FLEET_STATE_BUCKET: physicalId('StateBucket'),
      WORKER_FLEET_FLEET_BUCKET: physicalId('FleetBucket'),
      WORKER_FLEET_LOG_BUCKET: physicalId('LogBucket'),
      WORKER_FLEET_WORKER_ROLE: physicalId('WorkerRole'),
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    });
    const { handler } = await import('../src/handlers/launch-workers');
    const schedule = JSON.parse(readFileSync(join(ROOT, 'events', 'launch-schedule.json'), 'utf8'));
    const context = {
      awsRequestId: 'local-1',
      functionName: `worker-fleet-${STAGE}-launchWorkers`,
    } as Context;

    const [first] = await handler(schedule, context);
    check(
      first?.launched.length === targetCapacity,
      `expected ${targetCapacity} workers, got ${JSON.stringify(first)}`,
    );
    step('schedule fired', `launched ${first.launched.length} workers for fleet batch`);
    console.table(first.launched);

    const [second] = await handler(
      { ...schedule, id: 'second-tick' },
      { ...context, awsRequestId: 'local-2' },
    );
    check(
      second?.status === 'at-capacity' && second.launched.length === 0,
      `second run: ${JSON.stringify(second)}`,
    );
    step('schedule fired again', `fleet batch at capacity (${second.active} workers), launched nothing`);

    // An access log file lands in the log bucket (S3 writes none locally: the workers' requests are generated), and
    // logS3Access gets the event EventBridge delivers for it (the emulator's CloudFormation leaves the bucket's
    // notifications off, so the event is the sample's, naming the deployed bucket and the file).
    const logBucket = physicalId('LogBucket');
    const fleetBucket = physicalId('FleetBucket');
    const logKey = 'fleet/2026-11-25-10-05-12-5A7E1B3C9D2F4E60';
    const lines = first.launched.flatMap((worker, n) =>
      ['REST.PUT.OBJECT', 'REST.GET.OBJECT'].map((operation) =>
        accessLogLine({
          bucket: fleetBucket,
          time: new Date(),
          requester: workerSession(physicalId('WorkerRole'), worker.instanceId),
          operation,
          key: `results/part-${n}.json`,
          status: 200,
          bytes: 1024,
          remoteIp: `10.0.0.${n + 10}`,
          requestId: `LOCAL${n}${operation.length}`,
        }),
      ),
    );
    await new S3Client({ ...settings, forcePathStyle: true }).send(
      new PutObjectCommand({ Bucket: logBucket, Key: logKey, Body: `${lines.join('\n')}\n` }),
    );
    const delivered = JSON.parse(readFileSync(join(ROOT, 'events', 's3-access-log-delivered.json'), 'utf8'));
    delivered.detail.bucket.name = logBucket;
    delivered.detail.object.key = logKey;
    const access = await import('../src/handlers/log-s3-access');
    const logged = await access.handler(delivered, {
      ...context,
      awsRequestId: 'local-3',
      functionName: `worker-fleet-${STAGE}-logS3Access`,
    });
    check(
      logged.records === lines.length && logged.attributed === lines.length && logged.malformed === 0,
      `access log: ${JSON.stringify(logged)}`,
    );
    step(
      'access log delivered',
      `${logged.records} accesses logged, ${logged.attributed} attributed to workers`,
    );

    if (keep) {
      step('emulator kept running', 'press Ctrl-C to stop it');
      console.log(
        `\n  export AWS_ENDPOINT_URL=${emulator.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1`,
      );
      console.log(
        `  WORKER_FLEET_FLEETS_FILE=${fleetsFile} npx serverless invoke local -f launchWorkers -p events/launch-direct.json --stage ${STAGE}\n`,
      );
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    step('done');
  } finally {
    await emulator.stop();
    emulator.assertNoUnimplementedCalls();
  }
}

main(process.argv.includes('--keep')).catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
