import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import { GetInstanceProfileCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  DeleteObjectCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { runServerless } from '../../local/serverless-cli';
import { readFleetConfig, writeFleetConfig } from '../../src/aws/fleet-config-store';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();

/** The fleets of the deploy tests' fleets file, as the store holds them. */
const FLEETS = {
  batch: {
    ami: 'ami-0123456789abcdef0',
    instanceTypes: ['t4g.small'],
    subnets: ['subnet-0123456789abcdef0'],
    market: 'spot',
    targetCapacity: 1,
  },
};

function fleetsFile(targetCapacity = 1): string {
  const file = join(mkdtempSync(join(tmpdir(), 'worker-fleet-')), 'fleets.yml');
  writeFileSync(
    file,
    [
      'batch:',
      '  ami: ami-0123456789abcdef0',
      '  instanceTypes: [t4g.small]',
      '  subnets: [subnet-0123456789abcdef0]',
      '  market: spot',
      `  targetCapacity: ${targetCapacity}`,
    ].join('\n'),
  );
  return file;
}

const deploy = (file: string) =>
  runServerless(emulator(), ['deploy', '--stage', 'test', '--region', 'us-east-1'], {
    WORKER_FLEET_FLEETS_FILE: file,
  });

/** The deployed state bucket (the fleet configuration store's) and an S3 client for it. */
async function stateBucket() {
  const settings = clientConfig(emulator());
  const found = await new CloudFormationClient(settings).send(
    new ListStackResourcesCommand({ StackName: 'worker-fleet-test' }),
  );
  const bucket = found.StackResourceSummaries?.find((r) => r.LogicalResourceId === 'StateBucket');
  return {
    s3: new S3Client({ ...settings, forcePathStyle: true }),
    bucket: bucket?.PhysicalResourceId ?? '',
  };
}

describe('serverless deploy to the emulator', () => {
  it('reaches UPDATE_COMPLETE with the functions, rules, roles and topic it declares', async () => {
    const run = await runServerless(emulator(), ['deploy', '--stage', 'test', '--region', 'us-east-1'], {
      WORKER_FLEET_FLEETS_FILE: fleetsFile(),
    });
    expect(run.output).toContain('Service deployed to stack worker-fleet-test');
    expect(run.code).toBe(0);

    const settings = clientConfig(emulator());
    const cloudFormation = new CloudFormationClient(settings);
    const stacks = await cloudFormation.send(new DescribeStacksCommand({ StackName: 'worker-fleet-test' }));
    expect(stacks.Stacks?.[0]?.StackStatus).toBe('UPDATE_COMPLETE');

    const listed = await cloudFormation.send(
      new ListStackResourcesCommand({ StackName: 'worker-fleet-test' }),
    );
    const resources = new Map(
      (listed.StackResourceSummaries ?? []).map((resource) => [resource.LogicalResourceId, resource]),
    );
    // The emulator's CloudFormation does not model alarms, topic, queue or bucket policies: the template test
    // (test/template/template.test.ts) checks those.
    for (const [logicalId, type] of [
      ['LaunchWorkersLambdaFunction', 'AWS::Lambda::Function'],
      ['HandleSpotInterruptionLambdaFunction', 'AWS::Lambda::Function'],
      ['ReapIdleWorkersLambdaFunction', 'AWS::Lambda::Function'],
      ['LogS3AccessLambdaFunction', 'AWS::Lambda::Function'],
      ['LaunchWorkersLogGroup', 'AWS::Logs::LogGroup'],
      ['HandleSpotInterruptionLogGroup', 'AWS::Logs::LogGroup'],
      ['FleetKey', 'AWS::KMS::Key'],
      ['FleetTopic', 'AWS::SNS::Topic'],
      ['FunctionFailureQueue', 'AWS::SQS::Queue'],
      ['EventDeliveryFailureQueue', 'AWS::SQS::Queue'],
      ['StateBucket', 'AWS::S3::Bucket'],
      ['FleetBucket', 'AWS::S3::Bucket'],
      ['LogBucket', 'AWS::S3::Bucket'],
      ['WorkerRole', 'AWS::IAM::Role'],
      ['WorkerInstanceProfile', 'AWS::IAM::InstanceProfile'],
      ['LaunchWorkersRole', 'AWS::IAM::Role'],
      ['SpotInterruptionRole', 'AWS::IAM::Role'],
      ['ReapIdleWorkersRole', 'AWS::IAM::Role'],
      ['LogS3AccessRole', 'AWS::IAM::Role'],
    ]) {
      expect({ logicalId, resource: resources.get(logicalId) }).toMatchObject({
        logicalId,
        resource: { ResourceType: type, ResourceStatus: 'CREATE_COMPLETE' },
      });
    }
    expect(resources.get('LaunchWorkersLambdaFunction')?.PhysicalResourceId).toBe(
      'worker-fleet-test-launchWorkers',
    );

    const iam = new IAMClient(settings);
    for (const role of [
      'worker',
      'launch-workers',
      'spot-interruption',
      'reap-idle-workers',
      'log-s3-access',
    ]) {
      await expect(
        iam.send(new GetRoleCommand({ RoleName: `worker-fleet-test-${role}` })),
      ).resolves.toBeDefined();
    }
    const profile = await iam.send(
      new GetInstanceProfileCommand({ InstanceProfileName: 'worker-fleet-test-worker' }),
    );
    expect(profile.InstanceProfile?.Roles?.map((role) => role.RoleName)).toEqual([
      'worker-fleet-test-worker',
    ]);

    const topicArn = resources.get('FleetTopic')?.PhysicalResourceId ?? '';
    const topic = await new SNSClient(settings).send(new GetTopicAttributesCommand({ TopicArn: topicArn }));
    expect(topic.Attributes?.KmsMasterKeyId).toBe(resources.get('FleetKey')?.PhysicalResourceId);

    const events = new EventBridgeClient(settings);
    const rules = await Promise.all(
      [...resources.values()]
        .filter((resource) => resource.ResourceType === 'AWS::Events::Rule')
        .map(async (resource) => {
          const name = resource.PhysicalResourceId ?? '';
          const [rule, targets] = await Promise.all([
            events.send(new DescribeRuleCommand({ Name: name })),
            events.send(new ListTargetsByRuleCommand({ Rule: name })),
          ]);
          return { rule, targets: targets.Targets ?? [] };
        }),
    );
    expect(rules).toHaveLength(12);
    const schedules = rules.filter(({ rule }) => rule.ScheduleExpression !== undefined);
    expect(
      schedules.map(({ rule, targets }) => [rule.ScheduleExpression, rule.State, targets[0]?.Input]).sort(),
    ).toEqual([
      ['rate(1 minute)', 'ENABLED', '{"reconcile":true}'],
      // The retire schedule: retirements carried on by default, idle judging left to the reap schedule (#28).
      ['rate(1 minute)', 'ENABLED', '{"retireOnly":true}'],
      ['rate(5 minutes)', 'DISABLED', undefined],
      ['rate(5 minutes)', 'DISABLED', undefined],
    ]);
    const patterns = rules.flatMap(({ rule }) =>
      rule.EventPattern === undefined ? [] : [JSON.parse(rule.EventPattern)],
    );
    expect(patterns.map((pattern) => pattern['detail-type'].join(',')).sort()).toEqual([
      'AWS API Call via CloudTrail',
      'AWS Health Event',
      'EC2 Instance Rebalance Recommendation',
      'EC2 Instance State-change Notification',
      'EC2 Spot Instance Interruption Warning',
      'Launch Workers Requested',
      'Object Created',
      'Object Created,Object Deleted',
    ]);
    // The fleet bucket's rules name the deployed bucket.
    expect(JSON.stringify(patterns)).toContain(resources.get('FleetBucket')?.PhysicalResourceId);
    expect(resources.has('AccessTrail')).toBe(false);
    for (const { targets } of rules) {
      expect(targets).toHaveLength(1);
      expect(targets[0]?.RetryPolicy?.MaximumRetryAttempts).toBeGreaterThan(0);
      expect(targets[0]?.DeadLetterConfig?.Arn).toMatch(/event-delivery-failures$/);
    }
  });

  it('seeds the fleet configuration store from the fleets file, and a redeploy applies a changed file', async () => {
    const first = await deploy(fleetsFile());
    expect(first.code).toBe(0);
    expect(first.output).toMatch(
      /Fleet configuration: seeded s3:\/\/\S+\/config\/fleets\.json from the fleets file/,
    );
    const { s3, bucket } = await stateBucket();
    expect(await readFleetConfig(s3, bucket)).toMatchObject({
      document: FLEETS,
      version: { writtenBy: 'deploy' },
    });

    const second = await deploy(fleetsFile(3));

    expect(second.code).toBe(0);
    expect((await readFleetConfig(s3, bucket))?.document).toMatchObject({ batch: { targetCapacity: 3 } });
  }, 180_000);

  it('never overwrites a document pushed with config push: the deploy leaves it and says so', async () => {
    expect((await deploy(fleetsFile())).code).toBe(0);
    const { s3, bucket } = await stateBucket();
    const seeded = await readFleetConfig(s3, bucket);
    const pushed = { batch: { ...FLEETS.batch, targetCapacity: 5 } };
    await writeFleetConfig(s3, bucket, pushed, 'config-push', { etag: seeded?.version.etag ?? '' });

    const redeploy = await deploy(fleetsFile(2));

    expect(redeploy.code).toBe(0);
    expect(redeploy.output).toContain('holds a document written by config-push');
    expect(redeploy.output).toContain('the fleets file was not applied');
    expect(await readFleetConfig(s3, bucket)).toMatchObject({
      document: pushed,
      version: { writtenBy: 'config-push' },
    });
  }, 180_000);

  it('removes a stack whose versioned buckets hold objects, old versions and delete markers', async () => {
    expect((await deploy(fleetsFile())).code).toBe(0);
    const settings = clientConfig(emulator());
    const listed = await new CloudFormationClient(settings).send(
      new ListStackResourcesCommand({ StackName: 'worker-fleet-test' }),
    );
    const buckets = (listed.StackResourceSummaries ?? [])
      .filter((resource) =>
        ['StateBucket', 'FleetBucket', 'LogBucket'].includes(resource.LogicalResourceId ?? ''),
      )
      .map((resource) => resource.PhysicalResourceId ?? '');
    expect(buckets).toHaveLength(3);
    const s3 = new S3Client({ ...settings, forcePathStyle: true });
    for (const Bucket of buckets) {
      // The emulator's CloudFormation leaves out the buckets' VersioningConfiguration (the template has it, and
      // checkov checks it): turned on here as AWS does.
      await s3.send(
        new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }),
      );
      // Two versions of one object, and a delete marker over another: what a versioned bucket keeps.
      await s3.send(new PutObjectCommand({ Bucket, Key: 'kept/object', Body: 'one' }));
      await s3.send(new PutObjectCommand({ Bucket, Key: 'kept/object', Body: 'two' }));
      await s3.send(new PutObjectCommand({ Bucket, Key: 'deleted/object', Body: 'gone' }));
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'deleted/object' }));
    }
    const held = async (Bucket: string) => {
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket }));
      return (listed.Versions?.length ?? 0) + (listed.DeleteMarkers?.length ?? 0);
    };
    const before = await Promise.all(buckets.map(held));
    // Each holds at least the four written here (the state bucket, the seeded fleet configuration too).
    expect(before.every((count) => count >= 4)).toBe(true);
    // The emulator deletes a stack's buckets whether they are empty or not (AWS refuses): to see what the remove
    // leaves in them, its first DeleteStack fails.
    emulator().faults.push({ action: 'DeleteStack', code: 'ValidationError', status: 400, times: 1 });
    const stopped = await runServerless(emulator(), ['remove', '--stage', 'test', '--region', 'us-east-1']);

    expect(stopped.code).not.toBe(0);
    expect(stopped.output).toMatch(/Emptied 3 buckets \(\d+ object versions and delete markers\)/);
    expect(await Promise.all(buckets.map(held))).toEqual([0, 0, 0]);

    const removed = await runServerless(emulator(), ['remove', '--stage', 'test', '--region', 'us-east-1']);

    expect({ code: removed.code, output: removed.output }).toEqual({
      code: 0,
      output: expect.stringContaining('has been successfully removed'),
    });
    for (const Bucket of buckets) {
      await expect(s3.send(new HeadBucketCommand({ Bucket }))).rejects.toMatchObject({ name: 'NotFound' });
    }
  }, 240_000);

  it('remove terminates only the workers of this deployment first, or keeps them, named, when told', async () => {
    const ec2 = new EC2Client(clientConfig(emulator()));
    const launch = async (tagged: boolean, profiled: boolean) => {
      const run = await ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-03cf127a',
          MinCount: 1,
          MaxCount: 1,
          ...(profiled ? { IamInstanceProfile: { Name: 'worker-fleet-test-worker' } } : {}),
          ...(tagged
            ? {
                TagSpecifications: [
                  {
                    ResourceType: 'instance',
                    Tags: [{ Key: 'worker-fleet:managed-by', Value: 'worker-fleet-test' }],
                  },
                ],
              }
            : {}),
        }),
      );
      return run.Instances?.[0]?.InstanceId ?? '';
    };
    const states = async (ids: readonly string[]) => {
      const found = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] }));
      const state = new Map(
        (found.Reservations ?? [])
          .flatMap((reservation) => reservation.Instances ?? [])
          .map((instance) => [instance.InstanceId, instance.State?.Name]),
      );
      return ids.map((id) => state.get(id));
    };
    const remove = (...extra: string[]) =>
      runServerless(emulator(), ['remove', '--stage', 'test', '--region', 'us-east-1', ...extra]);

    expect((await deploy(fleetsFile())).code).toBe(0);
    const kept = await launch(true, true);
    const keptRun = await remove('--param', 'keepWorkers=true');

    expect(keptRun.code).toBe(0);
    expect(keptRun.output).toContain(`Keeping 1 workers running (keepWorkers): ${kept}`);
    expect(await states([kept])).toEqual(['running']);

    expect((await deploy(fleetsFile())).code).toBe(0);
    const worker = await launch(true, true);
    // The tag without the worker profile, or the profile without the tag: not a worker of this deployment.
    const taggedByHand = await launch(true, false);
    const profiledOnly = await launch(false, true);
    const removed = await remove();

    expect(removed.code).toBe(0);
    expect(removed.output).toContain('Stopped launchWorkers and handleSpotInterruption');
    expect(removed.output).toMatch(new RegExp(`Terminated 2 workers: (${kept} ${worker}|${worker} ${kept})`));
    expect(await states([kept, worker, taggedByHand, profiledOnly])).toEqual([
      'terminated',
      'terminated',
      'running',
      'running',
    ]);
    const stopped = emulator().requests.filter((request) => request.path.includes('/concurrency'));
    expect(stopped.map((request) => request.path)).toEqual([
      expect.stringContaining('worker-fleet-test-launchWorkers'),
      expect.stringContaining('worker-fleet-test-handleSpotInterruption'),
    ]);
  }, 360_000);

  it('lets serverless invoke local run a function with a sample event against the deployed stack', async () => {
    const env = { WORKER_FLEET_FLEETS_FILE: fleetsFile() };
    const deployed = await runServerless(
      emulator(),
      ['deploy', '--stage', 'test', '--region', 'us-east-1'],
      env,
    );
    expect(deployed.code).toBe(0);

    // The environment's Refs resolve against the stack, and the ESM bundle (.mjs) is what runs.
    const run = await runServerless(
      emulator(),
      ['invoke', 'local', '-f', 'reapIdleWorkers', '-p', 'events/reap-direct.json', '--stage', 'test'],
      env,
    );
    expect({ code: run.code, output: run.output }).toEqual({
      code: 0,
      output: expect.stringContaining('"fleet": "batch"'),
    });
    expect(run.output).toContain('"dryRun": true');
    expect(run.output).toContain('"workers": 0');
  }, 120_000);

  it('refuses to package an invalid fleet, naming the field', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'worker-fleet-')), 'fleets.yml');
    writeFileSync(file, 'broken:\n  ami: ami-0123456789abcdef0\n  instanceTypes: []\n');

    const run = await runServerless(emulator(), ['package', '--stage', 'test'], {
      WORKER_FLEET_FLEETS_FILE: file,
    });

    expect(run.code).not.toBe(0);
    expect(run.output).toContain('broken.instanceTypes: at least one instance type is required');
    expect(emulator().requests).toHaveLength(0);
  });
});
