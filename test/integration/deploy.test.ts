import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeRuleCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetInstanceProfileCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { runServerless } from '../../local/serverless-cli';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();

function fleetsFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'worker-fleet-')), 'fleets.yml');
  writeFileSync(
    file,
    [
      'deploytest:',
      '  ami: ami-0123456789abcdef0',
      '  instanceTypes: [t4g.small]',
      '  subnets: [subnet-0123456789abcdef0]',
      '  market: spot',
      '  targetCapacity: 1',
    ].join('\n'),
  );
  return file;
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
    for (const [logicalId, type] of [
      ['LaunchWorkersLambdaFunction', 'AWS::Lambda::Function'],
      ['LaunchWorkersLogGroup', 'AWS::Logs::LogGroup'],
      ['HandleSpotInterruptionLambdaFunction', 'AWS::Lambda::Function'],
      ['HandleSpotInterruptionLogGroup', 'AWS::Logs::LogGroup'],
      ['StateBucket', 'AWS::S3::Bucket'],
      ['FleetBucket', 'AWS::S3::Bucket'],
      ['ReapIdleWorkersLambdaFunction', 'AWS::Lambda::Function'],
      ['FleetTopic', 'AWS::SNS::Topic'],
      ['WorkerRole', 'AWS::IAM::Role'],
      ['WorkerInstanceProfile', 'AWS::IAM::InstanceProfile'],
    ]) {
      expect(resources.get(logicalId)).toMatchObject({
        ResourceType: type,
        ResourceStatus: 'CREATE_COMPLETE',
      });
    }
    expect(resources.get('LaunchWorkersLambdaFunction')?.PhysicalResourceId).toBe(
      'worker-fleet-test-launchWorkers',
    );

    const iam = new IAMClient(settings);
    await expect(
      iam.send(new GetRoleCommand({ RoleName: 'worker-fleet-test-worker' })),
    ).resolves.toBeDefined();
    await expect(
      iam.send(new GetRoleCommand({ RoleName: 'worker-fleet-test-us-east-1-lambdaRole' })),
    ).resolves.toBeDefined();
    const profile = await iam.send(
      new GetInstanceProfileCommand({ InstanceProfileName: 'worker-fleet-test-worker' }),
    );
    expect(profile.InstanceProfile?.Roles?.map((role) => role.RoleName)).toEqual([
      'worker-fleet-test-worker',
    ]);

    const topicArn = resources.get('FleetTopic')?.PhysicalResourceId ?? '';
    const topic = await new SNSClient(settings).send(new GetTopicAttributesCommand({ TopicArn: topicArn }));
    expect(topic.Attributes?.KmsMasterKeyId).toBe('alias/aws/sns');

    const events = new EventBridgeClient(settings);
    const schedule = await events.send(
      new DescribeRuleCommand({
        Name: resources.get('LaunchWorkersEventsRuleSchedule1')?.PhysicalResourceId,
      }),
    );
    expect(schedule).toMatchObject({ ScheduleExpression: 'rate(5 minutes)', State: 'DISABLED' });
    const requested = await events.send(
      new DescribeRuleCommand({ Name: 'worker-fleet-test-launchWorkers-rule-2' }),
    );
    expect(JSON.parse(requested.EventPattern ?? '{}')).toEqual({
      source: ['worker-fleet'],
      'detail-type': ['Launch Workers Requested'],
    });
    for (const rule of [1, 2, 3]) {
      const described = await events.send(
        new DescribeRuleCommand({ Name: `worker-fleet-test-handleSpotInterruption-rule-${rule}` }),
      );
      expect(JSON.parse(described.EventPattern ?? '{}')).toMatchObject({ source: ['aws.ec2'] });
    }
  });

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
