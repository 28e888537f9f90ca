import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { extractZip, zipEntries } from '../../local/zip-archive';
import { FLEET_ACCESS_LOG_PREFIX } from '../../src/access/log-s3-access';
import { packagedDir, packagedTemplate, type Template } from './packaged-stack';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const actionsOf = (statement: Statement) => [statement.Action].flat();
const resourcesOf = (statement: Statement) => JSON.stringify(statement.Resource);

function roleStatements(template: Template, logicalId: string): Statement[] {
  const policies = (template.Resources[logicalId]?.Properties.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** What each function's code calls (it must be granted) and what would be another function's job (it must not). */
const FUNCTION_ROLES = {
  LaunchWorkersRole: {
    calls: [
      'ec2:DescribeInstances',
      'ec2:RunInstances',
      'ec2:CreateTags',
      'iam:PassRole',
      'sns:Publish',
      'ssm:GetParameter',
      's3:ListBucket',
      's3:GetObject',
      's3:PutObject',
    ],
    never: [
      'ec2:TerminateInstances',
      'ec2:DeleteTags',
      'events:PutEvents',
      's3:DeleteObject',
      'cloudwatch:GetMetricData',
    ],
  },
  SpotInterruptionRole: {
    calls: [
      'ec2:DescribeInstances',
      'ec2:RunInstances',
      'ec2:CreateTags',
      'iam:PassRole',
      'sns:Publish',
      'ssm:GetParameter',
      's3:ListBucket',
      's3:GetObject',
      's3:PutObject',
      's3:DeleteObject',
      'events:PutEvents',
    ],
    never: ['ec2:TerminateInstances', 'ec2:DeleteTags', 'cloudwatch:GetMetricData'],
  },
  ReapIdleWorkersRole: {
    calls: [
      'ec2:DescribeInstances',
      'cloudwatch:GetMetricData',
      'ec2:CreateTags',
      'ec2:DeleteTags',
      'ec2:TerminateInstances',
      'sns:Publish',
      's3:ListBucket',
      's3:GetObject',
    ],
    never: [
      'ec2:RunInstances',
      'iam:PassRole',
      'events:PutEvents',
      'ssm:GetParameter',
      's3:PutObject',
      's3:DeleteObject',
    ],
  },
  LogS3AccessRole: {
    calls: ['ec2:DescribeInstances', 's3:GetObject', 'sns:Publish'],
    never: [
      'ec2:RunInstances',
      'ec2:CreateTags',
      'ec2:DeleteTags',
      'ec2:TerminateInstances',
      'iam:PassRole',
      'events:PutEvents',
      's3:PutObject',
      's3:DeleteObject',
    ],
  },
} as const;

const resourcesOfType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

/** What is wrong with the functions' and workers' permissions; empty when they are as narrow as promised. */
function policyViolations(template: Template): string[] {
  const violations: string[] = [];
  const reads = new Set(['ec2:DescribeInstances', 'cloudwatch:GetMetricData']);
  for (const [role, { never }] of Object.entries(FUNCTION_ROLES)) {
    const statements = roleStatements(template, role).filter((statement) => statement.Effect === 'Allow');
    const granting = (action: string) =>
      statements.filter((statement) => actionsOf(statement).includes(action));
    const tagged = (statement: Statement) =>
      statement.Condition?.StringEquals?.['aws:ResourceTag/worker-fleet:managed-by'] !== undefined;
    for (const statement of statements) {
      for (const action of actionsOf(statement)) {
        if (action.includes('*')) violations.push(`${role}: wildcard action ${action}`);
        if (statement.Resource === '*' && !reads.has(action))
          violations.push(`${role}: ${action} on every resource`);
      }
      if (
        actionsOf(statement).includes('iam:PassRole') &&
        actionsOf(statement).includes('ec2:RunInstances')
      ) {
        violations.push(`${role}: PassRole and RunInstances in one statement`);
      }
    }
    for (const action of never) if (granting(action).length > 0) violations.push(`${role}: may ${action}`);
    for (const statement of [...granting('ec2:TerminateInstances'), ...granting('ec2:DeleteTags')]) {
      if (!tagged(statement))
        violations.push(`${role}: ${actionsOf(statement).join('+')} without the managed-by tag condition`);
    }
    for (const statement of granting('ec2:CreateTags')) {
      if (statement.Condition?.StringEquals?.['ec2:CreateAction'] === undefined && !tagged(statement)) {
        violations.push(`${role}: CreateTags neither at launch nor only on managed instances`);
      }
    }
    for (const statement of granting('iam:PassRole')) {
      if (!resourcesOf(statement).includes('WorkerRole'))
        violations.push(`${role}: PassRole beyond the worker role`);
      if (statement.Condition?.StringEquals?.['iam:PassedToService'] !== 'ec2.amazonaws.com') {
        violations.push(`${role}: PassRole without iam:PassedToService ec2.amazonaws.com`);
      }
    }
    for (const statement of granting('ec2:RunInstances').filter((s) =>
      resourcesOf(s).includes(':instance/'),
    )) {
      const equals = statement.Condition?.StringEquals ?? {};
      if (equals['ec2:MetadataHttpTokens'] !== 'required')
        violations.push(`${role}: RunInstances without IMDSv2 required`);
      if (!JSON.stringify(equals['ec2:InstanceProfile'] ?? '').includes('WorkerInstanceProfile')) {
        violations.push(`${role}: RunInstances without the worker instance profile`);
      }
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
  const template = packagedTemplate();
  const dir = packagedDir();

  it("ships each function as its own ESM bundle and chunks, without node_modules or another function's code", () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function').map(([, fn]) => {
      const { Handler, Code } = fn.Properties as { Handler: string; Code: { S3Key: string } };
      return { module: Handler.replace(/\.handler$/, ''), zip: basename(Code.S3Key) };
    });
    expect(functions).toHaveLength(4);

    for (const { module, zip } of functions) {
      const entries = zipEntries(join(dir, zip));
      const own = (entry: string) =>
        entry === `${module}.mjs` || (entry.startsWith(`${module}.chunks/`) && entry.endsWith('.mjs'));

      expect({ zip, strays: entries.filter((entry) => !own(entry)) }).toEqual({ zip, strays: [] });
      expect(entries).toContain(`${module}.mjs`);
      expect(entries.some((entry) => entry.startsWith(`${module}.chunks/`))).toBe(true);
    }
  });

  it('extracts each zip into modules Node loads, entry and deferred chunk alike', () => {
    const zips = readdirSync(dir).filter((file) => file.endsWith('.zip'));
    expect(zips).toHaveLength(4);

    for (const zip of zips) {
      const unpacked = join(dir, zip.replace(/\.zip$/, ''));
      const files = extractZip(join(dir, zip), unpacked);

      expect(files.map((file) => relative(unpacked, file)).sort()).toEqual(zipEntries(join(dir, zip)).sort());
      const imports = files
        .filter((file) => file.endsWith('.mjs'))
        .map((file) => `await import(${JSON.stringify(pathToFileURL(file).href)});`);
      const loaded = spawnSync(process.execPath, ['--input-type=module', '-e', imports.join('\n')], {
        encoding: 'utf8',
        env: { ...process.env, AWS_REGION: 'us-east-1' },
      });
      expect({ zip, code: loaded.status, stderr: loaded.stderr }).toEqual({ zip, code: 0, stderr: '' });
    }
  });

  it.each(Object.entries(FUNCTION_ROLES))(
    'grants %s every AWS action its function calls',
    (role, { calls }) => {
      expect(roleStatements(template, role).flatMap(actionsOf)).toEqual(expect.arrayContaining([...calls]));
    },
  );

  it('runs each function with its own role', () => {
    const roles = resourcesOfType(template, 'AWS::Lambda::Function').map(([, fn]) =>
      JSON.stringify(fn.Properties.Role),
    );

    expect(roles).toEqual([
      expect.stringContaining('LaunchWorkersRole'),
      expect.stringContaining('SpotInterruptionRole'),
      expect.stringContaining('ReapIdleWorkersRole'),
      expect.stringContaining('LogS3AccessRole'),
    ]);
  });

  it("keeps every permission as narrow as promised, and no function can do another one's job", () => {
    expect(policyViolations(template)).toEqual([]);
  });

  it('lets the launching functions record workers in the registry, and only the interruption handler read it', () => {
    const onRegistry = (role: string) =>
      roleStatements(template, role)
        .filter((statement) => JSON.stringify(statement.Resource).includes('/workers/*'))
        .flatMap(actionsOf)
        .sort();

    expect(onRegistry('LaunchWorkersRole')).toEqual(['s3:PutObject']);
    expect(onRegistry('SpotInterruptionRole')).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(onRegistry('ReapIdleWorkersRole')).toEqual([]);
    expect(onRegistry('LogS3AccessRole')).toEqual([]);
  });

  it('notices a loosened policy', () => {
    const loosened = structuredClone(template);
    const policies = loosened.Resources.ReapIdleWorkersRole?.Properties.Policies as {
      PolicyDocument: { Statement: Statement[] };
    }[];
    policies[0]?.PolicyDocument.Statement.push(
      { Effect: 'Allow', Action: ['iam:PassRole', 'ec2:RunInstances'], Resource: '*' },
      { Effect: 'Allow', Action: 'ec2:TerminateInstances', Resource: '*' },
      { Effect: 'Allow', Action: 's3:*', Resource: '*' },
    );

    expect(policyViolations(loosened)).toEqual(
      expect.arrayContaining([
        'ReapIdleWorkersRole: PassRole and RunInstances in one statement',
        'ReapIdleWorkersRole: may ec2:RunInstances',
        'ReapIdleWorkersRole: ec2:TerminateInstances without the managed-by tag condition',
        'ReapIdleWorkersRole: wildcard action s3:*',
        'ReapIdleWorkersRole: PassRole beyond the worker role',
      ]),
    );
  });

  it('runs every function on nodejs24.x and arm64 with an encrypted environment and a dead-letter queue', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');

    expect(functions).toHaveLength(4);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
      expect(JSON.stringify(fn.Properties.KmsKeyArn)).toContain('FleetKey');
      expect(JSON.stringify(fn.Properties.DeadLetterConfig)).toContain('FunctionFailureQueue');
    }
  });

  it("caps every function's asynchronous retries and event age, shortest for the interruption handler", () => {
    const configs = Object.fromEntries(
      resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').map(([, config]) => [
        JSON.stringify(config.Properties.FunctionName).replace(/\W/g, ''),
        config.Properties,
      ]),
    );

    expect(Object.keys(configs)).toHaveLength(4);
    for (const config of Object.values(configs)) {
      expect(config.MaximumRetryAttempts).toEqual(expect.any(Number));
      expect(config.MaximumEventAgeInSeconds).toEqual(expect.any(Number));
    }
    expect(configs.RefHandleSpotInterruptionLambdaFunction?.MaximumEventAgeInSeconds).toBeLessThanOrEqual(
      180,
    );
  });

  it('gives every rule target a retry policy and a dead-letter queue', () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule');

    expect(rules).toHaveLength(9);
    for (const [name, rule] of rules) {
      const [target] = rule.Properties.Targets as {
        RetryPolicy?: object;
        DeadLetterConfig?: { Arn: unknown };
      }[];
      expect({ name, retry: target?.RetryPolicy !== undefined }).toEqual({ name, retry: true });
      expect(JSON.stringify(target?.DeadLetterConfig?.Arn)).toContain('EventDeliveryFailureQueue');
    }
  });

  it('alarms on both failure queues, to the fleet topic', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) =>
      JSON.stringify(alarm.Properties),
    );

    for (const queue of ['FunctionFailureQueue', 'EventDeliveryFailureQueue']) {
      expect(alarms.filter((alarm) => alarm.includes(queue) && alarm.includes('FleetTopic'))).toHaveLength(1);
    }
  });

  it('encrypts the topic with the fleet key and refuses plain-text publishing', () => {
    expect(JSON.stringify(template.Resources.FleetTopic?.Properties.KmsMasterKeyId)).toContain('FleetKey');
    expect(JSON.stringify(template.Resources.FleetTopicPolicy?.Properties)).toContain('aws:SecureTransport');
    expect(template.Resources.FleetKey?.Properties.EnableKeyRotation).toBe(true);
  });

  it('subscribes the alert email only when one is given', () => {
    expect(template.Resources.AlertEmailSubscription).toMatchObject({ Condition: 'HasAlertEmail' });
  });

  it('hardens every bucket, and logs access to the state and fleet buckets', () => {
    for (const bucket of ['StateBucket', 'FleetBucket', 'LogBucket']) {
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
        VersioningConfiguration: { Status: 'Enabled' },
      });
      expect(JSON.stringify(template.Resources[`${bucket}Policy`]?.Properties)).toContain(
        'aws:SecureTransport',
      );
    }
    for (const bucket of ['StateBucket', 'FleetBucket']) {
      expect(JSON.stringify(template.Resources[bucket]?.Properties.LoggingConfiguration)).toContain(
        'LogBucket',
      );
    }
  });

  it('gives workers the fleet bucket and nothing else: list it, read, write and delete its objects', () => {
    const statements = roleStatements(template, 'WorkerRole').map((statement) => ({
      actions: actionsOf(statement).sort(),
      resource: statement.Resource,
    }));

    expect(statements).toEqual([
      { actions: ['s3:ListBucket'], resource: { 'Fn::GetAtt': ['FleetBucket', 'Arn'] } },
      {
        actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
        resource: { 'Fn::Sub': '${FleetBucket.Arn}/*' },
      },
    ]);
    expect(template.Resources.WorkerRole?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("tells EventBridge of the fleet bucket's objects and of new access logs, and the access logger reads only those logs", () => {
    for (const bucket of ['FleetBucket', 'LogBucket']) {
      expect(template.Resources[bucket]?.Properties.NotificationConfiguration).toEqual({
        EventBridgeConfiguration: { EventBridgeEnabled: true },
      });
    }
    expect(template.Resources.FleetBucket?.Properties.LoggingConfiguration).toMatchObject({
      LogFilePrefix: FLEET_ACCESS_LOG_PREFIX,
    });
    const reads = roleStatements(template, 'LogS3AccessRole').filter((statement) =>
      actionsOf(statement).includes('s3:GetObject'),
    );
    expect(reads.map((statement) => statement.Resource)).toEqual([
      { 'Fn::Sub': `\${LogBucket.Arn}/${FLEET_ACCESS_LOG_PREFIX}*` },
    ]);
  });

  it('records CloudTrail data events of the fleet bucket only when the stage opts in', () => {
    expect(template.Resources.AccessTrail).toMatchObject({ Condition: 'HasAccessTrail' });
    expect(JSON.stringify(template.Resources.AccessTrail?.Properties.AdvancedEventSelectors)).toContain(
      'FleetBucket',
    );
  });

  it('keeps logs for the configured retention', () => {
    for (const [, group] of resourcesOfType(template, 'AWS::Logs::LogGroup')) {
      expect(group.Properties.RetentionInDays).toBe(30);
    }
  });
});
