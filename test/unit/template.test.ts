import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServerless } from '../../local/serverless-cli';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

const actionsOf = (statement: Statement) => [statement.Action].flat();
const resourcesOf = (statement: Statement) => JSON.stringify(statement.Resource);

function roleStatements(template: Template, logicalId: string): Statement[] {
  const policies = (template.Resources[logicalId]?.Properties.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** What is wrong with the functions' and workers' permissions; empty when they are as narrow as promised. */
function policyViolations(template: Template): string[] {
  const violations: string[] = [];
  const functions = roleStatements(template, 'IamRoleLambdaExecution').filter((s) => s.Effect === 'Allow');
  const granting = (action: string) => functions.filter((s) => actionsOf(s).includes(action));
  const reads = new Set(['ec2:DescribeInstances', 'cloudwatch:GetMetricData']);

  for (const statement of functions) {
    for (const action of actionsOf(statement)) {
      if (action.includes('*')) violations.push(`wildcard action ${action}`);
      if (statement.Resource === '*' && !reads.has(action)) violations.push(`${action} on every resource`);
    }
  }
  for (const statement of granting('ec2:TerminateInstances')) {
    if (statement.Condition?.StringEquals?.['aws:ResourceTag/worker-fleet:managed-by'] === undefined) {
      violations.push('TerminateInstances without the managed-by resource tag condition');
    }
  }
  for (const statement of granting('ec2:DeleteTags')) {
    if (statement.Condition?.StringEquals?.['aws:ResourceTag/worker-fleet:managed-by'] === undefined) {
      violations.push('DeleteTags without the managed-by resource tag condition');
    }
  }
  for (const statement of granting('ec2:CreateTags')) {
    const equals = statement.Condition?.StringEquals ?? {};
    if (
      equals['ec2:CreateAction'] === undefined &&
      equals['aws:ResourceTag/worker-fleet:managed-by'] === undefined
    ) {
      violations.push('CreateTags neither at launch nor only on managed instances');
    }
  }
  for (const statement of granting('iam:PassRole')) {
    if (!resourcesOf(statement).includes('WorkerRole')) violations.push('PassRole beyond the worker role');
    if (statement.Condition?.StringEquals?.['iam:PassedToService'] !== 'ec2.amazonaws.com') {
      violations.push('PassRole without iam:PassedToService ec2.amazonaws.com');
    }
  }
  for (const statement of granting('ec2:RunInstances').filter((s) => resourcesOf(s).includes(':instance/'))) {
    const equals = statement.Condition?.StringEquals ?? {};
    if (equals['ec2:MetadataHttpTokens'] !== 'required')
      violations.push('RunInstances without IMDSv2 required');
    if (!JSON.stringify(equals['ec2:InstanceProfile'] ?? '').includes('WorkerInstanceProfile')) {
      violations.push('RunInstances without the worker instance profile');
    }
  }
  for (const statement of functions) {
    const acts = actionsOf(statement);
    if (acts.includes('iam:PassRole') && acts.includes('ec2:RunInstances')) {
      violations.push('PassRole and RunInstances in one statement');
    }
  }
  for (const statement of roleStatements(template, 'WorkerRole')) {
    for (const action of actionsOf(statement)) {
      if (!action.startsWith('s3:')) violations.push(`worker role may ${action}`);
    }
    if (!resourcesOf(statement).includes('FleetBucket'))
      violations.push('worker role reaches beyond the fleet bucket');
  }
  return violations;
}

describe('the packaged stack', () => {
  let template: Template;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-template-'));
    const run = await runServerless(undefined, ['package', '--stage', 'test', '--package', dir]);
    if (run.code !== 0) throw new Error(`serverless package failed:\n${run.output}`);
    template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  }, 120_000);

  it('grants every AWS action the functions call', () => {
    const granted = roleStatements(template, 'IamRoleLambdaExecution').flatMap(actionsOf);

    expect(granted).toEqual(
      expect.arrayContaining([
        'ec2:DescribeInstances',
        'ec2:RunInstances',
        'ec2:CreateTags',
        'ec2:DeleteTags',
        'ec2:TerminateInstances',
        'cloudwatch:GetMetricData',
        'iam:PassRole',
        'sns:Publish',
        's3:GetObject',
        's3:PutObject',
        's3:DeleteObject',
        's3:ListBucket',
        'events:PutEvents',
        'ssm:GetParameter',
      ]),
    );
  });

  it('keeps every permission as narrow as promised', () => {
    expect(policyViolations(template)).toEqual([]);
  });

  it('notices a loosened policy', () => {
    const loosened = structuredClone(template);
    const role = loosened.Resources.IamRoleLambdaExecution?.Properties.Policies as {
      PolicyDocument: { Statement: Statement[] };
    }[];
    role[0]?.PolicyDocument.Statement.push(
      { Effect: 'Allow', Action: ['iam:PassRole', 'ec2:RunInstances'], Resource: '*' },
      { Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: '*' },
      { Effect: 'Allow', Action: 's3:*', Resource: '*' },
    );

    expect(policyViolations(loosened)).toEqual(
      expect.arrayContaining([
        'PassRole and RunInstances in one statement',
        'TerminateInstances without the managed-by resource tag condition',
        'wildcard action s3:*',
        'ec2:TerminateInstances on every resource',
        'PassRole beyond the worker role',
      ]),
    );
  });

  it('runs every function on nodejs24.x and arm64, with log retention', () => {
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const logGroups = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Logs::LogGroup');

    expect(functions).toHaveLength(3);
    for (const fn of functions)
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
    for (const group of logGroups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('hardens both buckets', () => {
    for (const bucket of ['StateBucket', 'FleetBucket']) {
      expect(template.Resources[bucket]?.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      expect(JSON.stringify(template.Resources[`${bucket}Policy`]?.Properties)).toContain(
        'aws:SecureTransport',
      );
    }
  });
});
