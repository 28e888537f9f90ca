import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { packagedFunctionEnv } from '../../local/deployment-env';
import { createStateTable } from '../../local/state-table';
import { extractZip, zipEntries } from '../../local/zip-archive';
import { FLEET_ACCESS_LOG_PREFIX } from '../../src/access/log-s3-access';
import { REAP_LEASE_TTL_MS } from '../../src/fleet/reap-idle-workers';
import { LEASE_MARGIN_MS, LEASE_TTL_MS } from '../../src/fleet/reconcile-fleet';
import { FUNCTIONS } from './functions';
import { packagedDir, packagedTemplate, STAGE, type Template } from './packaged-stack';

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

const FUNCTION_TABLE = Object.entries(FUNCTIONS);

/** A table column by function name, as a plain object to compare with what the template holds. */
const byFunction = <T>(column: (row: (typeof FUNCTIONS)[keyof typeof FUNCTIONS]) => T) =>
  Object.fromEntries(FUNCTION_TABLE.map(([name, row]) => [name, column(row)]));

const resourcesOfType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

type PackagedFunctions = Map<string, { logicalId: string; properties: Record<string, unknown> }>;

/** The packaged functions by their name in serverless.yml, each with its logical ID. */
function packagedFunctions(template: Template): PackagedFunctions {
  return new Map(
    resourcesOfType(template, 'AWS::Lambda::Function').map(([logicalId, fn]) => [
      String(fn.Properties.FunctionName).replace(`worker-fleet-${STAGE}-`, ''),
      { logicalId, properties: fn.Properties },
    ]),
  );
}

/** The name of the packaged function a property refers to (a target's ARN, a configuration's function). */
function functionReferredBy(functions: PackagedFunctions, reference: unknown): string | undefined {
  const logicalId = /"(\w+LambdaFunction)"/.exec(JSON.stringify(reference))?.[1];
  return [...functions].find(([, fn]) => fn.logicalId === logicalId)?.[0];
}

const WORKER_PARAMETER_READS = ['ssm:GetParameter', 'ssm:GetParameters'];

/** What is wrong with the functions' and workers' permissions; empty when they are as narrow as promised. */
function policyViolations(template: Template): string[] {
  const violations: string[] = [];
  // Reads that IAM grants on every resource or not at all.
  const reads = new Set([
    'ec2:DescribeInstances',
    'ec2:DescribeInstanceStatus',
    'ec2:DescribeImages',
    'cloudwatch:GetMetricData',
  ]);
  for (const { role, never } of Object.values(FUNCTIONS)) {
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
      const profile = statement.Condition?.ArnEquals?.['ec2:InstanceProfile'];
      if (!JSON.stringify(profile ?? '').includes('WorkerInstanceProfile')) {
        violations.push(`${role}: RunInstances without the worker instance profile`);
      }
    }
  }
  // The worker role's own allows: its keys in the fleet bucket, and reading the parameters named for workers.
  for (const statement of roleStatements(template, 'WorkerRole').filter(({ Effect }) => Effect === 'Allow')) {
    const parameters = actionsOf(statement).every((action) => WORKER_PARAMETER_READS.includes(action));
    for (const action of actionsOf(statement)) {
      if (!action.startsWith('s3:') && !parameters) violations.push(`worker role may ${action}`);
    }
    if (!resourcesOf(statement).includes(parameters ? ':parameter/' : 'FleetBucket'))
      violations.push('worker role reaches beyond the fleet bucket and its parameters');
  }
  return violations;
}

/** A chunk of a module a handler imports at run time: `src/handlers/<handler>-<what>-phase.ts` (see bench/cold-start.ts). */
const LATER_PHASE = /\/[a-z0-9-]+-phase-\w+\.mjs$/;

describe('the packaged stack', () => {
  const template = packagedTemplate();
  const dir = packagedDir();
  const functions = packagedFunctions(template);
  /** A table row's function as packaged; a function of the table that was not packaged fails the test. */
  const packaged = (name: string) => {
    const fn = functions.get(name);
    if (fn === undefined) throw new Error(`function ${name} is not in the packaged template`);
    return fn.properties;
  };

  it('packages the functions of the table, each with its own role, and no function role beyond them', () => {
    const roles = Object.fromEntries([...functions].map(([name, fn]) => [name, fn.properties.Role]));
    const functionRoles = resourcesOfType(template, 'AWS::IAM::Role')
      .map(([logicalId]) => logicalId)
      .filter((logicalId) => logicalId !== 'WorkerRole');

    expect(roles).toEqual(byFunction(({ role }) => ({ 'Fn::Sub': `\${${role}.Arn}` })));
    expect(functionRoles.sort()).toEqual(FUNCTION_TABLE.map(([, { role }]) => role).sort());
  });

  it("ships each function as its own ESM bundle and chunks, without node_modules or another function's code", () => {
    for (const [name] of FUNCTION_TABLE) {
      const { Handler, Code } = packaged(name) as { Handler: string; Code: { S3Key: string } };
      const module = Handler.replace(/\.handler$/, '');
      const zip = basename(Code.S3Key);
      const entries = zipEntries(join(dir, zip));
      const own = (entry: string) =>
        entry === `${module}.mjs` || (entry.startsWith(`${module}.chunks/`) && entry.endsWith('.mjs'));

      expect({ zip, strays: entries.filter((entry) => !own(entry)) }).toEqual({ zip, strays: [] });
      expect(entries).toContain(`${module}.mjs`);
    }
  });

  it('splits off a second phase for the spot handler only: the others load everything at init', () => {
    const phases = FUNCTION_TABLE.flatMap(([name]) => {
      const { Handler, Code } = packaged(name) as { Handler: string; Code: { S3Key: string } };
      const module = Handler.replace(/\.handler$/, '');
      return zipEntries(join(dir, basename(Code.S3Key))).filter(
        (entry) => entry.startsWith(`${module}.chunks/`) && LATER_PHASE.test(entry),
      );
    });

    expect(phases).toEqual([
      expect.stringMatching(
        /^src\/handlers\/spot-interruption\.chunks\/spot-interruption-ec2-phase-\w+\.mjs$/,
      ),
    ]);
  });

  it('extracts each zip into modules Node loads, entry and chunks alike, with its packaged environment', () => {
    const functions = FUNCTION_TABLE.map(([name]) => {
      const { Code, Environment } = packaged(name) as {
        Code: { S3Key: string };
        Environment?: { Variables?: Record<string, unknown> };
      };
      return { zip: basename(Code.S3Key), environment: Environment?.Variables ?? {} };
    });
    const zips = readdirSync(dir).filter((file) => file.endsWith('.zip'));
    expect(zips.sort()).toEqual(FUNCTION_TABLE.map(([name]) => `${name}.zip`).sort());

    for (const { zip, environment } of functions) {
      const unpacked = join(dir, zip.replace(/\.zip$/, ''));
      const files = extractZip(join(dir, zip), unpacked);

      expect(files.map((file) => relative(unpacked, file)).sort()).toEqual(zipEntries(join(dir, zip)).sort());
      const imports = files
        .filter((file) => file.endsWith('.mjs'))
        .map((file) => `await import(${JSON.stringify(pathToFileURL(file).href)});`);
      const loaded = spawnSync(process.execPath, ['--input-type=module', '-e', imports.join('\n')], {
        encoding: 'utf8',
        env: { ...process.env, ...packagedFunctionEnv(environment) },
      });
      expect({ zip, code: loaded.status, stderr: loaded.stderr }).toEqual({ zip, code: 0, stderr: '' });
    }
  });

  it.each(FUNCTION_TABLE)('grants %s every AWS action its code calls', (_, { role, calls }) => {
    expect(roleStatements(template, role).flatMap(actionsOf)).toEqual(expect.arrayContaining([...calls]));
  });

  it("keeps every permission as narrow as promised, and no function can do another one's job", () => {
    expect(policyViolations(template)).toEqual([]);
  });

  it('lets each function reach the state table with its own actions only, and no other principal reach it', () => {
    const onTable = (role: string) =>
      roleStatements(template, role)
        .filter((statement) => JSON.stringify(statement).includes('StateTable'))
        .map((statement) => {
          expect({ role, statement }).toEqual({
            role,
            statement: expect.objectContaining({
              Effect: 'Allow',
              Resource: { 'Fn::GetAtt': ['StateTable', 'Arn'] },
            }),
          });
          return statement;
        })
        .flatMap(actionsOf)
        .sort();

    expect(byFunction(({ role }) => onTable(role))).toEqual(
      byFunction(({ stateTable }) => [...stateTable].sort()),
    );
    // Nor may a worker, on this table or any other.
    expect(onTable('WorkerRole')).toEqual([]);
    expect(
      roleStatements(template, 'WorkerRole')
        .filter(({ Effect }) => Effect === 'Allow')
        .flatMap(actionsOf)
        .filter((action) => action.startsWith('dynamodb:')),
    ).toEqual([]);
  });

  it('keeps no state in the state bucket: the functions list it and read the fleet configuration, nothing else', () => {
    const onBucket = (role: string) =>
      roleStatements(template, role)
        .filter((statement) => resourcesOf(statement).includes('StateBucket'))
        .flatMap((statement) => actionsOf(statement).map((action) => `${action} ${resourcesOf(statement)}`))
        .sort();
    const readsConfig = [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      's3:GetObject {"Fn::Sub":"${StateBucket.Arn}/config/fleets.json"}',
      's3:ListBucket {"Fn::GetAtt":["StateBucket","Arn"]}',
    ];

    expect(byFunction(({ role }) => onBucket(role))).toEqual({
      launchWorkers: readsConfig,
      handleSpotInterruption: readsConfig,
      reapIdleWorkers: readsConfig,
      logS3Access: [],
    });
  });

  it('declares the state table as the adapter and local/state-table.ts expect it: on demand, recoverable, encrypted, expiring', async () => {
    // The table the local tests and benchmarks create (local/state-table.ts), as its CreateTable request.
    let created: { KeySchema?: unknown; AttributeDefinitions?: unknown; BillingMode?: unknown } = {};
    await createStateTable(
      {
        send: async (command: { input: typeof created }) => {
          created = command.input;
        },
      } as unknown as DynamoDBClient,
      'state',
    );
    const table = template.Resources.StateTable as
      | (Template['Resources'][string] & { DeletionPolicy?: string; UpdateReplacePolicy?: string })
      | undefined;

    expect(table?.Type).toBe('AWS::DynamoDB::Table');
    expect(table?.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    expect(table?.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect({
      KeySchema: table?.Properties.KeySchema,
      AttributeDefinitions: table?.Properties.AttributeDefinitions,
      BillingMode: table?.Properties.BillingMode,
    }).toEqual({
      KeySchema: created.KeySchema,
      AttributeDefinitions: created.AttributeDefinitions,
      BillingMode: created.BillingMode,
    });
    // The stage's param stateTableDeletionPolicy, Delete unless a stage keeps its state.
    expect({ deletion: table?.DeletionPolicy, replace: table?.UpdateReplacePolicy }).toEqual({
      deletion: 'Delete',
      replace: 'Delete',
    });
    expect(readFileSync('infra/storage.yml', 'utf8')).toMatch(
      /StateTable:\n\s+Type: AWS::DynamoDB::Table\n\s+DeletionPolicy: \$\{param:stateTableDeletionPolicy\}\n\s+UpdateReplacePolicy: \$\{param:stateTableDeletionPolicy\}/,
    );
  });

  it('lets every lease outlive the longest invocation that may hold it', () => {
    const timeout = (name: string) => {
      const seconds = packaged(name).Timeout;
      if (typeof seconds !== 'number') throw new Error(`${name} has no packaged Timeout`);
      return seconds;
    };
    // launchWorkers and handleSpotInterruption reconcile under the fleet's lease; reapIdleWorkers holds the reap
    // lease; the CLI holds none (it only requests, through events).
    const reconcilers = Math.max(timeout('launchWorkers'), timeout('handleSpotInterruption'));

    expect(LEASE_TTL_MS).toBeGreaterThanOrEqual(reconcilers * 1000 + LEASE_MARGIN_MS);
    expect(REAP_LEASE_TTL_MS).toBeGreaterThanOrEqual(timeout('reapIdleWorkers') * 1000 + 30_000);
  });

  it("caps logS3Access's concurrency, and only its own, so that a worker's writes never starve the other functions", () => {
    const reserved = Object.fromEntries(
      FUNCTION_TABLE.map(([name]) => [name, packaged(name).ReservedConcurrentExecutions]),
    );

    expect(reserved).toEqual({ ...byFunction(() => undefined as unknown), logS3Access: 5 });
  });

  it('expires what workers write (results, notices, heartbeats) and aborts the uploads they never complete', () => {
    const lifecycle = template.Resources.FleetBucket?.Properties.LifecycleConfiguration as
      | { Rules: { Prefix?: string; ExpirationInDays?: number }[] }
      | undefined;
    const rules = lifecycle?.Rules ?? [];
    const expiring = Object.fromEntries(
      rules.filter((rule) => rule.Prefix !== undefined).map((rule) => [rule.Prefix, rule.ExpirationInDays]),
    );

    expect(expiring).toEqual({ 'heartbeats/': 7, 'results/': 30, 'notices/': 7 });
    expect(rules).toContainEqual(
      expect.objectContaining({
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      }),
    );
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
    for (const [name] of FUNCTION_TABLE) {
      const fn = packaged(name);
      expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
      expect(JSON.stringify(fn.KmsKeyArn)).toContain('FleetKey');
      expect(JSON.stringify(fn.DeadLetterConfig)).toContain('FunctionFailureQueue');
    }
  });

  it("caps every function's asynchronous retries and event age, shortest for the interruption handler", () => {
    const configs = Object.fromEntries(
      resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').map(([, config]) => [
        functionReferredBy(functions, config.Properties.FunctionName) ?? 'no function',
        config.Properties,
      ]),
    );

    expect(configs).toEqual(
      byFunction(() =>
        expect.objectContaining({
          MaximumRetryAttempts: expect.any(Number),
          MaximumEventAgeInSeconds: expect.any(Number),
        }),
      ),
    );
    expect(configs.handleSpotInterruption?.MaximumEventAgeInSeconds).toBeLessThanOrEqual(180);
  });

  it('invokes each function by the rules of the table', () => {
    const invoking: Record<string, string[]> = {};
    for (const [, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
      const { ScheduleExpression, EventPattern, Targets } = rule.Properties as {
        ScheduleExpression?: string;
        EventPattern?: { 'detail-type': string[] };
        Targets: { Arn: unknown }[];
      };
      const fn = functionReferredBy(functions, Targets[0]?.Arn) ?? 'no function';
      const trigger = ScheduleExpression === undefined ? EventPattern?.['detail-type'].join(',') : 'schedule';
      invoking[fn] = [...(invoking[fn] ?? []), trigger ?? 'no trigger'].sort();
    }

    expect(invoking).toEqual(byFunction(({ rules }) => [...rules].sort()));
  });

  it('gives every rule target a retry policy and a dead-letter queue', () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule');

    expect(rules.length).toBeGreaterThan(0);
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

  it('gives workers their own keys of the fleet bucket and nothing else there (no delete, no listing beyond them), Session Manager, and only the managed policies the stage names', () => {
    // What the worker role denies beside these (storage classes, encryption, parameters) is evaluated in
    // iam-simulation.test.ts.
    const s3Allows = roleStatements(template, 'WorkerRole').filter(
      (statement) => statement.Effect === 'Allow' && actionsOf(statement).every((a) => a.startsWith('s3:')),
    );
    const statements = s3Allows.map((statement) => ({
      actions: actionsOf(statement).sort(),
      resource: statement.Resource,
      condition: statement.Condition,
    }));
    /* biome-ignore-start lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings */
    const own = ['heartbeats/${!aws:userid}', 'notices/${!aws:userid}/*', 'results/${!aws:userid}/*'];

    expect(statements).toEqual([
      {
        actions: ['s3:GetObject', 's3:PutObject'],
        resource: own.map((key) => ({ 'Fn::Sub': `\${FleetBucket.Arn}/${key}` })),
        condition: undefined,
      },
      {
        actions: ['s3:ListBucket'],
        resource: { 'Fn::GetAtt': ['FleetBucket', 'Arn'] },
        condition: { StringLike: { 's3:prefix': own.map((prefix) => ({ 'Fn::Sub': prefix })) } },
      },
    ]);
    /* biome-ignore-end lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings */
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
    const core = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore' };
    expect(template.Resources.WorkerRole?.Properties.ManagedPolicyArns).toEqual({
      'Fn::If': [
        'HasWorkerManagedPolicyArns',
        {
          'Fn::Split': [
            ',',
            {
              'Fn::Sub': [
                // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
                'arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore,${Extra}',
                { Extra: { 'Fn::Join': [',', { Ref: 'WorkerManagedPolicyArns' }] } },
              ],
            },
          ],
        },
        [core],
      ],
    });
    const parameter = (
      template as unknown as { Parameters: Record<string, { Default: string; AllowedPattern: string }> }
    ).Parameters.WorkerManagedPolicyArns;
    expect(parameter?.Default).toBe('');
    const allowed = new RegExp(parameter?.AllowedPattern ?? '');
    for (const arn of [
      '',
      'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
      'arn:aws:iam::123456789012:policy/data/read-batch-inputs',
    ]) {
      expect({ arn, allowed: allowed.test(arn) }).toEqual({ arn, allowed: true });
    }
    for (const arn of ['*', 'AdministratorAccess', 'arn:aws:iam::aws:policy/*', 'arn:aws:s3:::my-bucket']) {
      expect({ arn, allowed: allowed.test(arn) }).toEqual({ arn, allowed: false });
    }
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
