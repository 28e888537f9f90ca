import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import {
  ACCOUNT,
  deployedNames,
  rolePolicies as deployedRolePolicies,
  managedPolicyArns,
  type Policy,
  REGION,
  resourcePolicy,
  type Template,
  WORKER_ROLE_ID,
} from '../../checks/iam-policies';
import { TAG } from '../../src/model/tags';
import { managedPolicy } from './aws-managed-policies';
import { FUNCTIONS } from './functions';
import { packagedTemplate, STAGE } from './packaged-stack';

/**
 * The emulator does not enforce IAM: this evaluates the packaged template's own policies (each role's identity
 * policies, and the bucket policies) with an IAM policy simulator (@cloud-copilot/iam-simulate, AGPL-3.0: a dev
 * dependency of this test, never bundled) that evaluates conditions and policy variables. One row per promise:
 * every call each function's code makes is allowed, and every attack the trust boundary (issue #20) names is denied.
 */

const {
  managedBy: MANAGED_BY,
  buckets: BUCKETS,
  workerProfileArn: WORKER_PROFILE_ARN,
  topicArn: TOPIC_ARN,
  stateTableArn: STATE_TABLE_ARN,
  attributes,
} = deployedNames(STAGE);

/** A role's identity policies: the template's own, and the AWS managed policies it carries, as pinned. */
const rolePolicies = (template: Template, role: string) => [
  ...deployedRolePolicies(template, role, STAGE),
  ...managedPolicyArns(template, role, STAGE).map(managedPolicy),
];
const bucketPolicy = (template: Template, bucket: keyof typeof BUCKETS) =>
  resourcePolicy(template, `${bucket}Policy`, STAGE);

/** One request as AWS would authorize it: who, what, on which resource, with which request context. */
interface Request {
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string | string[]>;
}

type Verdict = 'Allowed' | 'Denied';

const arn = {
  instance: (id = 'i-0aaa0aaa0aaa0aaa0') => `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${id}`,
  object: (bucket: keyof typeof BUCKETS, key: string) => `arn:aws:s3:::${BUCKETS[bucket]}/${key}`,
  bucket: (bucket: keyof typeof BUCKETS) => `arn:aws:s3:::${BUCKETS[bucket]}`,
  parameter: (name: string) =>
    name.startsWith('/aws/service/')
      ? `arn:aws:ssm:${REGION}::parameter${name}`
      : `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`,
  bus: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/default`,
  /** The control plane's state table; another stage's, by its stage. */
  table: (stage = STAGE) =>
    stage === STAGE
      ? STATE_TABLE_ARN
      : STATE_TABLE_ARN.replace(`worker-fleet-${STAGE}-`, `worker-fleet-${stage}-`),
};

/** A request of this action on the state table (of another stage, if named). */
const onTable = (action: string, stage?: string): Request => ({ action, resource: arn.table(stage) });
/** The requests of these actions on the state table, per action (the shape of CALLS). */
const tableCalls = (...actions: string[]) =>
  Object.fromEntries(actions.map((action) => [action, [onTable(action)]]));

/** An instance of this deployment as EC2 shows it to IAM: its managed-by tag and the worker instance profile. */
const WORKER_INSTANCE = {
  [`aws:ResourceTag/${TAG.managedBy}`]: MANAGED_BY,
  'ec2:InstanceProfile': WORKER_PROFILE_ARN,
};
/** Someone copied the tag onto an instance of their own: another profile (or none). */
const HAND_TAGGED = {
  [`aws:ResourceTag/${TAG.managedBy}`]: MANAGED_BY,
  'ec2:InstanceProfile': `arn:aws:iam::${ACCOUNT}:instance-profile/admin`,
};

const tagging = (instance: Record<string, string>, keys: string[]) => ({
  ...instance,
  'aws:TagKeys': keys,
  ...Object.fromEntries(keys.map((key) => [`aws:RequestTag/${key}`, 'x'])),
});

const runAtLaunch = {
  'ec2:MetadataHttpTokens': 'required',
  'ec2:InstanceProfile': WORKER_PROFILE_ARN,
  [`aws:RequestTag/${TAG.managedBy}`]: MANAGED_BY,
  'aws:TagKeys': [TAG.managedBy, TAG.fleet, TAG.launchReason, TAG.triggerId, 'team'],
};

/**
 * The requests each function's code makes, per AWS action of its FUNCTIONS row (`calls`): every one must be allowed
 * (and every action of `calls` must have at least one here).
 */
const LAUNCH_REQUESTS: Record<string, Request[]> = {
  'ec2:DescribeInstances': [{ action: 'ec2:DescribeInstances', resource: '*' }],
  'ec2:DescribeImages': [{ action: 'ec2:DescribeImages', resource: '*' }],
  'ec2:RunInstances': [
    { action: 'ec2:RunInstances', resource: arn.instance('i-0new0new0new0new0'), context: runAtLaunch },
    {
      action: 'ec2:RunInstances',
      resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:volume/vol-0new0new0new0new0`,
      context: { [`aws:RequestTag/${TAG.managedBy}`]: MANAGED_BY },
    },
    ...[
      'subnet/subnet-0123456789abcdef0',
      'security-group/sg-0123456789abcdef0',
      'network-interface/eni-0new0new0new0new0',
    ].map((resource) => ({
      action: 'ec2:RunInstances',
      resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:${resource}`,
    })),
    { action: 'ec2:RunInstances', resource: `arn:aws:ec2:${REGION}::image/ami-0123456789abcdef0` },
  ],
  'ec2:CreateTags': [
    {
      action: 'ec2:CreateTags',
      resource: arn.instance('i-0new0new0new0new0'),
      context: { ...runAtLaunch, 'ec2:CreateAction': 'RunInstances' },
    },
  ],
  'iam:PassRole': [
    {
      action: 'iam:PassRole',
      resource: attributes['WorkerRole.Arn'] ?? '',
      context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
    },
  ],
  'sns:Publish': [{ action: 'sns:Publish', resource: TOPIC_ARN }],
  'ssm:GetParameter': [
    {
      action: 'ssm:GetParameter',
      resource: arn.parameter('/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64'),
    },
  ],
  's3:ListBucket': [{ action: 's3:ListBucket', resource: arn.bucket('StateBucket') }],
  's3:GetObject': [{ action: 's3:GetObject', resource: arn.object('StateBucket', 'config/fleets.json') }],
  ...tableCalls(
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
  ),
  'events:PutEvents': [
    {
      action: 'events:PutEvents',
      resource: arn.bus,
      context: {
        'events:source': ['worker-fleet'],
        'events:detail-type': ['Fleet Workers Launched', 'Fleet Launch Failed', 'Fleet Worker Replacement'],
      },
    },
  ],
};

const CALLS: Record<keyof typeof FUNCTIONS, Record<string, Request[]>> = {
  launchWorkers: LAUNCH_REQUESTS,
  handleSpotInterruption: {
    ...LAUNCH_REQUESTS,
    'ec2:CreateTags': [
      ...(LAUNCH_REQUESTS['ec2:CreateTags'] ?? []),
      {
        action: 'ec2:CreateTags',
        resource: arn.instance(),
        context: tagging(WORKER_INSTANCE, [TAG.interruptedAt, TAG.interruption]),
      },
    ],
    'events:PutEvents': [
      {
        action: 'events:PutEvents',
        resource: arn.bus,
        context: { 'events:source': ['worker-fleet'], 'events:detail-type': ['Worker Draining'] },
      },
      {
        action: 'events:PutEvents',
        resource: arn.bus,
        context: {
          'events:source': ['worker-fleet'],
          'events:detail-type': ['Fleet Spot Interruption', 'Fleet Rebalance Recommendation'],
        },
      },
    ],
  },
  reapIdleWorkers: {
    'ec2:DescribeInstances': [{ action: 'ec2:DescribeInstances', resource: '*' }],
    'ec2:DescribeInstanceStatus': [{ action: 'ec2:DescribeInstanceStatus', resource: '*' }],
    'cloudwatch:GetMetricData': [{ action: 'cloudwatch:GetMetricData', resource: '*' }],
    'ec2:CreateTags': [
      {
        action: 'ec2:CreateTags',
        resource: arn.instance(),
        context: tagging(WORKER_INSTANCE, [TAG.idleSince, TAG.idleReason]),
      },
    ],
    'ec2:DeleteTags': [
      {
        action: 'ec2:DeleteTags',
        resource: arn.instance(),
        context: { ...WORKER_INSTANCE, 'aws:TagKeys': [TAG.idleSince, TAG.idleReason] },
      },
    ],
    'ec2:TerminateInstances': [
      { action: 'ec2:TerminateInstances', resource: arn.instance(), context: WORKER_INSTANCE },
      {
        action: 'ec2:TerminateInstances',
        resource: arn.instance(),
        context: { ...WORKER_INSTANCE, [`aws:ResourceTag/${TAG.protected}`]: 'False' },
      },
    ],
    'sns:Publish': [{ action: 'sns:Publish', resource: TOPIC_ARN }],
    's3:ListBucket': [
      {
        action: 's3:ListBucket',
        resource: arn.bucket('FleetBucket'),
        context: { 's3:prefix': 'heartbeats/' },
      },
      { action: 's3:ListBucket', resource: arn.bucket('StateBucket') },
    ],
    's3:GetObject': [
      { action: 's3:GetObject', resource: arn.object('FleetBucket', `heartbeats/${WORKER_ROLE_ID}:i-0aaa`) },
      { action: 's3:GetObject', resource: arn.object('StateBucket', 'config/fleets.json') },
    ],
    ...tableCalls('dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'),
    // A retirement forgotten: an item of a fleet's partition.
    'dynamodb:DeleteItem': [
      { ...onTable('dynamodb:DeleteItem'), context: { 'dynamodb:LeadingKeys': ['fleet#batch'] } },
    ],
    'events:PutEvents': [
      {
        action: 'events:PutEvents',
        resource: arn.bus,
        context: {
          'events:source': ['worker-fleet'],
          'events:detail-type': [
            'Fleet Idle Warning',
            'Fleet Idle Terminated',
            'Fleet Idle Dry Run',
            'Fleet Worker Drained',
            'Fleet Scheduled Change',
          ],
        },
      },
    ],
  },
  logS3Access: {
    'ec2:DescribeInstances': [{ action: 'ec2:DescribeInstances', resource: '*' }],
    's3:GetObject': [
      { action: 's3:GetObject', resource: arn.object('LogBucket', 'fleet/2026-11-25-09-00-00-X') },
    ],
    'sns:Publish': [{ action: 'sns:Publish', resource: TOPIC_ARN }],
    'events:PutEvents': [
      {
        action: 'events:PutEvents',
        resource: arn.bus,
        context: {
          'events:source': ['worker-fleet'],
          'events:detail-type': [
            'Fleet Access After Termination',
            'Fleet IMDSv1 Credentials',
            'Fleet Access Denied Burst',
          ],
        },
      },
    ],
  },
};

const OTHER_WORKER = `${WORKER_ROLE_ID}:i-0bbb0bbb0bbb0bbb0`;
const SELF = `${WORKER_ROLE_ID}:i-0aaa0aaa0aaa0aaa0`;

/** The requests of the rows below, by what they do. */
const ask = {
  put: (bucket: keyof typeof BUCKETS, key: string): Request => ({
    action: 's3:PutObject',
    resource: arn.object(bucket, key),
  }),
  get: (bucket: keyof typeof BUCKETS, key: string): Request => ({
    action: 's3:GetObject',
    resource: arn.object(bucket, key),
  }),
  delete: (bucket: keyof typeof BUCKETS, key: string): Request => ({
    action: 's3:DeleteObject',
    resource: arn.object(bucket, key),
  }),
  list: (bucket: keyof typeof BUCKETS, prefix?: string): Request => ({
    action: 's3:ListBucket',
    resource: arn.bucket(bucket),
    context: prefix === undefined ? {} : { 's3:prefix': prefix },
  }),
  tag: (instance: Record<string, string>, keys: string[]): Request => ({
    action: 'ec2:CreateTags',
    resource: arn.instance(),
    context: tagging(instance, keys),
  }),
  /** DeleteTags of these keys; without keys, EC2 deletes every tag of the instance. */
  untag: (keys?: string[]): Request => ({
    action: 'ec2:DeleteTags',
    resource: arn.instance(),
    context: keys === undefined ? WORKER_INSTANCE : { ...WORKER_INSTANCE, 'aws:TagKeys': keys },
  }),
  terminate: (instance: Record<string, string>): Request => ({
    action: 'ec2:TerminateInstances',
    resource: arn.instance(),
    context: instance,
  }),
  emit: (source: string, ...detailTypes: string[]): Request => ({
    action: 'events:PutEvents',
    resource: arn.bus,
    context: { 'events:source': [source], 'events:detail-type': detailTypes },
  }),
  parameter: (name: string): Request => ({ action: 'ssm:GetParameter', resource: arn.parameter(name) }),
};

const PUBLIC_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64';
/** Where EC2 keeps the private key of the key pair the stack creates for `ssh: true` fleets. */
const SSH_PRIVATE_KEY = '/ec2/keypair/key-0123456789abcdef0';
const STORAGE = (storageClass: string) => ({ 's3:x-amz-storage-class': storageClass });
/** A PutObject in the fleet bucket with these request headers, as condition keys. */
const writeAs = (key: string, context: Record<string, string>): Request => ({
  ...ask.put('FleetBucket', key),
  context,
});

/** What a worker's own credentials may do (session `<role-id>:<instance-id>`), and every attack they must not. */
const WORKER_ROWS: [string, Request, Verdict][] = [
  ['writes its heartbeat', ask.put('FleetBucket', `heartbeats/${SELF}`), 'Allowed'],
  ['reads its heartbeat', ask.get('FleetBucket', `heartbeats/${SELF}`), 'Allowed'],
  ['writes its spot notice', ask.put('FleetBucket', `notices/${SELF}/spot`), 'Allowed'],
  ['writes its rebalance notice', ask.put('FleetBucket', `notices/${SELF}/rebalance`), 'Allowed'],
  ['writes its results', ask.put('FleetBucket', `results/${SELF}/part-0.json`), 'Allowed'],
  ['lists its results', ask.list('FleetBucket', `results/${SELF}/`), 'Allowed'],
  ["writes another worker's heartbeat", ask.put('FleetBucket', `heartbeats/${OTHER_WORKER}`), 'Denied'],
  [
    'writes a heartbeat under the bare instance id',
    ask.put('FleetBucket', 'heartbeats/i-0bbb0bbb0bbb0bbb0'),
    'Denied',
  ],
  ["writes another worker's notice", ask.put('FleetBucket', `notices/${OTHER_WORKER}/spot`), 'Denied'],
  ["reads another worker's results", ask.get('FleetBucket', `results/${OTHER_WORKER}/part-0.json`), 'Denied'],
  ['deletes its heartbeat', ask.delete('FleetBucket', `heartbeats/${SELF}`), 'Denied'],
  ["deletes another worker's heartbeat", ask.delete('FleetBucket', `heartbeats/${OTHER_WORKER}`), 'Denied'],
  ["lists every worker's heartbeats", ask.list('FleetBucket', 'heartbeats/'), 'Denied'],
  ['lists the whole fleet bucket', ask.list('FleetBucket'), 'Denied'],
  ["reads worker-fleet's own state", onTable('dynamodb:GetItem'), 'Denied'],
  ["writes worker-fleet's own state", onTable('dynamodb:PutItem'), 'Denied'],
  ['rewrites the fleet configuration', ask.put('StateBucket', 'config/fleets.json'), 'Denied'],
  ['terminates another worker', ask.terminate(WORKER_INSTANCE), 'Denied'],
  ['tags another worker idle', ask.tag(WORKER_INSTANCE, [TAG.idleSince]), 'Denied'],
  // Issue #26: an instance is a worker of this deployment (notified, marked, an orphan) by its managed-by and fleet
  // tags, set at launch, or by its registry record in the state table: a worker can write neither.
  [
    "tags an instance of its own as this deployment's, into a fleet",
    ask.tag(HAND_TAGGED, [TAG.managedBy, TAG.fleet]),
    'Denied',
  ],
  ['moves itself into another fleet', ask.tag(WORKER_INSTANCE, [TAG.fleet]), 'Denied'],
  ['sends a Launch Workers Requested', ask.emit('worker-fleet', 'Launch Workers Requested'), 'Denied'],
  // Issue #27: what the managed policy for Session Manager allows, and what a worker's writes could break.
  ["reads AWS's public parameters", ask.parameter(PUBLIC_PARAMETER), 'Allowed'],
  ['opens a Session Manager channel', { action: 'ssmmessages:OpenDataChannel', resource: '*' }, 'Allowed'],
  [
    'tells Systems Manager it is online',
    { action: 'ssm:UpdateInstanceInformation', resource: arn.instance() },
    'Allowed',
  ],
  ["reads the stack's SSH private key", ask.parameter(SSH_PRIVATE_KEY), 'Denied'],
  ["reads the account's other parameters", ask.parameter('/prod/db/password'), 'Denied'],
  [
    "reads the account's other parameters in bulk",
    { action: 'ssm:GetParameters', resource: arn.parameter('/prod/db/password') },
    'Denied',
  ],
  ['writes its heartbeat in STANDARD', writeAs(`heartbeats/${SELF}`, STORAGE('STANDARD')), 'Allowed'],
  [
    "writes its heartbeat with the bucket's encryption",
    writeAs(`heartbeats/${SELF}`, { 's3:x-amz-server-side-encryption': 'AES256' }),
    'Allowed',
  ],
  ['writes its heartbeat in GLACIER', writeAs(`heartbeats/${SELF}`, STORAGE('GLACIER')), 'Denied'],
  ['writes its heartbeat in DEEP_ARCHIVE', writeAs(`heartbeats/${SELF}`, STORAGE('DEEP_ARCHIVE')), 'Denied'],
  ['writes its results in GLACIER', writeAs(`results/${SELF}/part-0.json`, STORAGE('GLACIER')), 'Denied'],
  [
    'writes its heartbeat with a key of its own (SSE-C)',
    writeAs(`heartbeats/${SELF}`, { 's3:x-amz-server-side-encryption-customer-algorithm': 'AES256' }),
    'Denied',
  ],
  [
    'writes its heartbeat with a KMS key (SSE-KMS)',
    writeAs(`heartbeats/${SELF}`, { 's3:x-amz-server-side-encryption': 'aws:kms' }),
    'Denied',
  ],
];

const FORGED_LAUNCH = ask.emit('worker-fleet', 'Launch Workers Requested');
const SECRET_PARAMETER = ask.parameter('/prod/db/password');
/** A worker of this deployment whose protected tag has this value (any but "false" protects it). */
const PROTECTED = (value: string) => ({ ...WORKER_INSTANCE, [`aws:ResourceTag/${TAG.protected}`]: value });
/** A tag someone copied by hand onto an instance without a profile. */
const TAG_ONLY = { [`aws:ResourceTag/${TAG.managedBy}`]: MANAGED_BY };

/** The attacks on (or the mistakes of) each function's role: each must be denied. */
const FUNCTION_ATTACKS: [keyof typeof FUNCTIONS, string, Request][] = [
  [
    'reapIdleWorkers',
    'terminates an instance tagged by hand, with another profile',
    ask.terminate(HAND_TAGGED),
  ],
  ['reapIdleWorkers', 'terminates an instance tagged by hand, with no profile', ask.terminate(TAG_ONLY)],
  ['reapIdleWorkers', 'terminates a protected worker', ask.terminate(PROTECTED('true'))],
  ['reapIdleWorkers', 'terminates a worker protected with any value', ask.terminate(PROTECTED('yes'))],
  [
    'reapIdleWorkers',
    "terminates another stage's worker",
    ask.terminate({ ...WORKER_INSTANCE, [`aws:ResourceTag/${TAG.managedBy}`]: 'worker-fleet-prod' }),
  ],
  [
    'reapIdleWorkers',
    'marks an instance tagged by hand idle',
    ask.tag(HAND_TAGGED, [TAG.idleSince, TAG.idleReason]),
  ],
  ['reapIdleWorkers', 'rewrites managed-by', ask.tag(WORKER_INSTANCE, [TAG.managedBy])],
  [
    'reapIdleWorkers',
    'rewrites managed-by beside an idle tag',
    ask.tag(WORKER_INSTANCE, [TAG.idleSince, TAG.managedBy]),
  ],
  ['reapIdleWorkers', 'removes protected', ask.untag([TAG.protected])],
  ['reapIdleWorkers', 'removes managed-by', ask.untag([TAG.managedBy])],
  ['reapIdleWorkers', 'deletes every tag (DeleteTags without keys)', ask.untag()],
  ['reapIdleWorkers', 'sends a Launch Workers Requested', FORGED_LAUNCH],
  ['reapIdleWorkers', 'reads another SSM parameter', SECRET_PARAMETER],
  ['reapIdleWorkers', 'lists the fleet bucket beyond heartbeats', ask.list('FleetBucket', 'results/')],
  [
    'reapIdleWorkers',
    'deletes a state item (a claim, a registry entry)',
    { ...onTable('dynamodb:DeleteItem'), context: { 'dynamodb:LeadingKeys': ['worker#i-0aaa'] } },
  ],
  ['reapIdleWorkers', 'deletes a state item without naming its partition', onTable('dynamodb:DeleteItem')],
  ['reapIdleWorkers', "writes another stage's state", onTable('dynamodb:PutItem', 'prod')],
  ['reapIdleWorkers', 'writes the state bucket', ask.put('StateBucket', 'leases/batch.json')],
  ['handleSpotInterruption', 'rewrites managed-by on a worker', ask.tag(WORKER_INSTANCE, [TAG.managedBy])],
  ['handleSpotInterruption', 'sets protected on a worker', ask.tag(WORKER_INSTANCE, [TAG.protected])],
  [
    'handleSpotInterruption',
    "marks a worker idle (the reaper's tags)",
    ask.tag(WORKER_INSTANCE, [TAG.idleSince]),
  ],
  [
    'handleSpotInterruption',
    'marks an instance tagged by hand interrupted',
    ask.tag(HAND_TAGGED, [TAG.interruptedAt, TAG.interruption]),
  ],
  ['handleSpotInterruption', 'removes protected', ask.untag([TAG.protected])],
  ['handleSpotInterruption', 'terminates a worker', ask.terminate(WORKER_INSTANCE)],
  [
    'handleSpotInterruption',
    'stops a worker',
    { action: 'ec2:StopInstances', resource: arn.instance(), context: WORKER_INSTANCE },
  ],
  ['handleSpotInterruption', 'sends a forged Launch Workers Requested', FORGED_LAUNCH],
  [
    'handleSpotInterruption',
    'sends Worker Draining as another source',
    ask.emit('aws.ec2', 'Worker Draining'),
  ],
  [
    'handleSpotInterruption',
    'sends Worker Draining beside a forged event',
    ask.emit('worker-fleet', 'Worker Draining', 'Launch Workers Requested'),
  ],
  ['handleSpotInterruption', 'reads another SSM parameter', SECRET_PARAMETER],
  ['handleSpotInterruption', 'writes a heartbeat', ask.put('FleetBucket', `heartbeats/${SELF}`)],
  [
    'handleSpotInterruption',
    'deletes an object of the state bucket',
    ask.delete('StateBucket', 'claims/x.json'),
  ],
  ['handleSpotInterruption', "deletes another stage's state", onTable('dynamodb:DeleteItem', 'prod')],
  ['handleSpotInterruption', 'scans the whole state table', onTable('dynamodb:Scan')],
  ['launchWorkers', 'rewrites managed-by on a running instance', ask.tag(HAND_TAGGED, [TAG.managedBy])],
  [
    'launchWorkers',
    'launches without IMDSv2',
    {
      action: 'ec2:RunInstances',
      resource: arn.instance(),
      context: { ...runAtLaunch, 'ec2:MetadataHttpTokens': 'optional' },
    },
  ],
  [
    'launchWorkers',
    'launches with another profile',
    {
      action: 'ec2:RunInstances',
      resource: arn.instance(),
      context: { ...runAtLaunch, 'ec2:InstanceProfile': HAND_TAGGED['ec2:InstanceProfile'] },
    },
  ],
  ['launchWorkers', 'sends a forged Launch Workers Requested', FORGED_LAUNCH],
  ['launchWorkers', 'reads another SSM parameter', SECRET_PARAMETER],
  ['launchWorkers', 'terminates a worker', ask.terminate(WORKER_INSTANCE)],
  ['launchWorkers', 'writes the state bucket', ask.put('StateBucket', 'workers/i-1.json')],
  ['launchWorkers', "writes another stage's state", onTable('dynamodb:PutItem', 'prod')],
  ['launchWorkers', 'deletes the state table', onTable('dynamodb:DeleteTable')],
  ['logS3Access', 'sends a forged Launch Workers Requested', FORGED_LAUNCH],
  ['logS3Access', 'reads the fleet configuration', ask.get('StateBucket', 'config/fleets.json')],
  ['logS3Access', 'reads the state table', onTable('dynamodb:GetItem')],
  ['logS3Access', 'writes the state table', onTable('dynamodb:PutItem')],
  [
    'logS3Access',
    "reads the state bucket's access logs",
    ask.get('LogBucket', 'state/2026-11-25-09-00-00-X'),
  ],
];

/** Server access log deliveries into the log bucket: only the stack's own buckets, each under its own prefix. */
const LOG_DELIVERIES: [string, string, string, Verdict][] = [
  [
    'the fleet bucket delivers its logs under fleet/',
    'fleet/2026-11-25-X',
    arn.bucket('FleetBucket'),
    'Allowed',
  ],
  [
    'the state bucket delivers its logs under state/',
    'state/2026-11-25-X',
    arn.bucket('StateBucket'),
    'Allowed',
  ],
  [
    'another bucket delivers a log under fleet/',
    'fleet/2026-11-25-X',
    'arn:aws:s3:::someone-elses-bucket',
    'Denied',
  ],
  [
    'another bucket delivers a log under state/',
    'state/2026-11-25-X',
    'arn:aws:s3:::someone-elses-bucket',
    'Denied',
  ],
  ['the state bucket delivers a log under fleet/', 'fleet/2026-11-25-X', arn.bucket('StateBucket'), 'Denied'],
  ['the fleet bucket delivers a log elsewhere', 'trail/x', arn.bucket('FleetBucket'), 'Denied'],
];

/** The stack's trail (param accessTrail), as CloudTrail names itself when it delivers. */
const TRAIL_ARN = `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/${MANAGED_BY}-fleet-bucket`;

/** CloudTrail's deliveries into the log bucket: the stack's trail only, under trail/AWSLogs/<account>/. */
const TRAIL_DELIVERIES: [string, string, string, Verdict][] = [
  [
    'the access trail delivers its logs',
    `trail/AWSLogs/${ACCOUNT}/CloudTrail/x.json.gz`,
    TRAIL_ARN,
    'Allowed',
  ],
  [
    'another trail of the account delivers under trail/',
    `trail/AWSLogs/${ACCOUNT}/CloudTrail/x.json.gz`,
    `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/other`,
    'Denied',
  ],
];

/**
 * A principal of the account whose own policies let it write anywhere in S3 (an application role with s3:PutObject
 * on `*`): no log prefix of the log bucket takes its objects.
 */
const BROAD_WRITER = {
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app/session`,
  userId: 'AROAAPPLICATIONROLE01:session',
  roleArn: `arn:aws:iam::${ACCOUNT}:role/app`,
};
const WRITES_ANYWHERE: { name: string; policy: Policy }[] = [
  {
    name: 'writes-anywhere',
    policy: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:PutObject', 's3:DeleteObject'], Resource: '*' }],
    },
  },
];
/** A session of a role of the account (`path` included), as aws:PrincipalArn names its role. */
const sessionOf = (rolePath: string) => ({
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${rolePath.split('/').pop()}/session`,
  userId: 'AROAOTHERROLE00000001:session',
  roleArn: `arn:aws:iam::${ACCOUNT}:role/${rolePath}`,
});
/**
 * The fleet configuration: written only by the principals the stage names (the simulated stage names a deployer
 * role and an SSO role of operators: LIST_PARAMETERS of checks/iam-policies.ts), whatever another may write.
 */
const CONFIG_WRITES: [string, ReturnType<typeof sessionOf>, Request, Verdict][] = [
  [
    'the deployer seeds the fleet configuration',
    sessionOf('deployer'),
    ask.put('StateBucket', 'config/fleets.json'),
    'Allowed',
  ],
  [
    'an operator pushes the fleet configuration',
    sessionOf('aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_0123456789abcdef'),
    ask.put('StateBucket', 'config/fleets.json'),
    'Allowed',
  ],
  [
    'a role that may write anywhere in S3 rewrites the fleet configuration',
    BROAD_WRITER,
    ask.put('StateBucket', 'config/fleets.json'),
    'Denied',
  ],
  [
    'a role that may write anywhere in S3 deletes the fleet configuration',
    BROAD_WRITER,
    ask.delete('StateBucket', 'config/fleets.json'),
    'Denied',
  ],
];
const FORGED_LOGS: [string, string][] = [
  ["writes a forged access log where logS3Access reads the fleet bucket's", 'fleet/2026-11-25-09-00-00-X'],
  ["writes a forged access log under the state bucket's prefix", 'state/2026-11-25-09-00-00-X'],
  ['writes a forged trail log', `trail/AWSLogs/${ACCOUNT}/CloudTrail/x.json.gz`],
];

/** The bucket an S3 request is on, for its bucket policy; undefined for any other service. */
function bucketOf(resource: string): keyof typeof BUCKETS | undefined {
  const name = /^arn:aws:s3:::([^/]+)/.exec(resource)?.[1];
  return (Object.keys(BUCKETS) as (keyof typeof BUCKETS)[]).find((bucket) => BUCKETS[bucket] === name);
}

/** AWS's verdict on a request by a role's session, from its identity policies and the bucket's policy. */
function decide(
  template: Template,
  role: string,
  session: { name: string; userId: string },
  request: Request,
): Promise<string> {
  return simulate(
    template,
    { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session.name}`, userId: session.userId },
    rolePolicies(template, role),
    request,
  );
}

/** AWS's verdict on a request by a principal of the account with these identity policies, and the bucket's policy. */
async function simulate(
  template: Template,
  principal: { arn: string; userId: string; roleArn?: string },
  identityPolicies: { name: string; policy: Policy }[],
  request: Request,
): Promise<string> {
  const bucket = bucketOf(request.resource);
  const simulation = {
    request: {
      principal: principal.arn,
      action: request.action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables: {
        'aws:userid': principal.userId,
        'aws:PrincipalAccount': ACCOUNT,
        'aws:SecureTransport': 'true',
        ...(principal.roleArn === undefined ? {} : { 'aws:PrincipalArn': principal.roleArn }),
        ...request.context,
      },
    },
    identityPolicies,
    resourcePolicy: bucket === undefined ? undefined : bucketPolicy(template, bucket),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  // AWS's public SSM parameters have no account in their ARN, which the simulator's resource types do not know:
  // it evaluates them without its input validation (there is no condition key to validate for GetParameter).
  if (/^arn:aws:ssm:[a-z0-9-]+::parameter\//.test(request.resource))
    return runUnsafeSimulation(simulation, {});
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') throw new Error(`simulation refused: ${JSON.stringify(result.errors)}`);
  // Reads EC2 and CloudWatch cannot scope are authorized on `*` alone.
  if (result.resultType === 'wildcard' && request.resource !== '*') {
    throw new Error(`one resource per row, not a pattern: ${request.resource}`);
  }
  return result.overallResult;
}

const asVerdict = (result: string): Verdict => (result === 'Allowed' ? 'Allowed' : 'Denied');

/** A function's role's session, as Lambda names it. */
const functionSession = (name: string) => ({
  name: `${MANAGED_BY}-${name}`,
  userId: `AROAFUNCTIONROLE0001:${MANAGED_BY}-${name}`,
});
const workerSession = { name: 'i-0aaa0aaa0aaa0aaa0', userId: SELF };

/** One promise: who does what, how AWS would decide it on a template, and the promised verdict. */
interface Row {
  readonly who: string;
  readonly what: string;
  readonly decide: (template: Template) => Promise<string>;
  readonly promised: Verdict;
}

/** A service's delivery into the log bucket, for a source bucket or trail, decided by the log bucket's policy alone. */
async function deliver(template: Template, principal: string, key: string, source: string): Promise<string> {
  const result = await runSimulation(
    {
      request: {
        principal,
        action: 's3:PutObject',
        resource: { resource: arn.object('LogBucket', key), accountId: ACCOUNT },
        contextVariables: {
          'aws:SourceArn': source,
          'aws:SourceAccount': ACCOUNT,
          'aws:SecureTransport': 'true',
        },
      },
      identityPolicies: [],
      resourcePolicy: bucketPolicy(template, 'LogBucket'),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType !== 'single') throw new Error(`simulation refused: ${JSON.stringify(result)}`);
  return result.overallResult;
}

/** Every row: each call of each function (from FUNCTIONS), each attack, each worker promise, each log delivery. */
const ROWS: Row[] = [
  ...(Object.keys(FUNCTIONS) as (keyof typeof FUNCTIONS)[]).flatMap((name) =>
    FUNCTIONS[name].calls.flatMap((action): Row[] => {
      const requests = CALLS[name][action] ?? [];
      if (requests.length === 0)
        throw new Error(`${name} calls ${action}: simulate a request of it in CALLS`);
      return requests.map((request) => ({
        who: name,
        what: `${action} on ${request.resource}`,
        decide: (template) => decide(template, FUNCTIONS[name].role, functionSession(name), request),
        promised: 'Allowed',
      }));
    }),
  ),
  ...FUNCTION_ATTACKS.map(
    ([name, what, request]): Row => ({
      who: name,
      what,
      decide: (template) => decide(template, FUNCTIONS[name].role, functionSession(name), request),
      promised: 'Denied',
    }),
  ),
  ...WORKER_ROWS.map(
    ([what, request, promised]): Row => ({
      who: 'a worker',
      what,
      decide: (template) => decide(template, 'WorkerRole', workerSession, request),
      promised,
    }),
  ),
  ...LOG_DELIVERIES.map(
    ([what, key, source, promised]): Row => ({
      who: 'the log bucket:',
      what,
      decide: (template) => deliver(template, 'logging.s3.amazonaws.com', key, source),
      promised,
    }),
  ),
  ...TRAIL_DELIVERIES.map(
    ([what, key, source, promised]): Row => ({
      who: 'the log bucket:',
      what,
      decide: (template) => deliver(template, 'cloudtrail.amazonaws.com', key, source),
      promised,
    }),
  ),
  ...CONFIG_WRITES.map(
    ([what, principal, request, promised]): Row => ({
      who: 'the state bucket:',
      what,
      decide: (template) => simulate(template, principal, WRITES_ANYWHERE, request),
      promised,
    }),
  ),
  ...FORGED_LOGS.map(
    ([what, key]): Row => ({
      who: 'a role that may write anywhere in S3',
      what,
      decide: (template) => simulate(template, BROAD_WRITER, WRITES_ANYWHERE, ask.put('LogBucket', key)),
      promised: 'Denied',
    }),
  ),
];

/** The rows a template breaks, one line each: `<who> <what>: <verdict>, promised <verdict>`. */
async function brokenPromises(template: Template): Promise<string[]> {
  const broken: string[] = [];
  for (const { who, what, decide: decideOn, promised } of ROWS) {
    const got = asVerdict(await decideOn(template));
    if (got !== promised) broken.push(`${who} ${what}: ${got}, promised ${promised}`);
  }
  return broken;
}

/** A role's statements in a copy of the template, to loosen. */
function statementsOf(template: Template, role: string): Record<string, unknown>[] {
  const [policy] = (template.Resources[role]?.Properties.Policies ?? []) as {
    PolicyDocument: { Statement: Record<string, unknown>[] };
  }[];
  if (policy === undefined) throw new Error(`${role} has no policy`);
  return policy.PolicyDocument.Statement;
}

describe("the packaged template's policies, evaluated", () => {
  const template = packagedTemplate();

  it.each(ROWS.map((row) => [`${row.who} ${row.what}`, row.promised, row] as const))(
    '%s: %s',
    async (_name, promised, row) => {
      expect(asVerdict(await row.decide(template))).toBe(promised);
    },
  );

  it('breaks the promises of a loosened template, and only those', async () => {
    const loosened = structuredClone(template);
    // The worker role as it was before issue #20: the whole fleet bucket.
    const worker = statementsOf(loosened, 'WorkerRole');
    worker.splice(0, worker.length, {
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      Resource: { 'Fn::Sub': '${FleetBucket.Arn}/*' },
    });
    // The reaper's terminate on the tag alone, without the worker instance profile.
    for (const statement of statementsOf(loosened, 'ReapIdleWorkersRole')) {
      const condition = statement.Condition as { ArnEquals?: unknown } | undefined;
      if (statement.Action === 'ec2:TerminateInstances') delete condition?.ArnEquals;
    }
    // Any event on the bus.
    for (const statement of statementsOf(loosened, 'SpotInterruptionRole')) {
      if (statement.Action === 'events:PutEvents') delete statement.Condition;
    }

    expect((await brokenPromises(loosened)).sort()).toEqual(
      [
        'a worker deletes its heartbeat: Allowed, promised Denied',
        "a worker deletes another worker's heartbeat: Allowed, promised Denied",
        "a worker reads another worker's results: Allowed, promised Denied",
        'a worker writes a heartbeat under the bare instance id: Allowed, promised Denied',
        "a worker writes another worker's heartbeat: Allowed, promised Denied",
        "a worker writes another worker's notice: Allowed, promised Denied",
        'a worker writes its heartbeat in DEEP_ARCHIVE: Allowed, promised Denied',
        'a worker writes its heartbeat in GLACIER: Allowed, promised Denied',
        'a worker writes its heartbeat with a KMS key (SSE-KMS): Allowed, promised Denied',
        'a worker writes its heartbeat with a key of its own (SSE-C): Allowed, promised Denied',
        'a worker writes its results in GLACIER: Allowed, promised Denied',
        'a worker lists its results: Denied, promised Allowed',
        'handleSpotInterruption sends Worker Draining as another source: Allowed, promised Denied',
        'handleSpotInterruption sends Worker Draining beside a forged event: Allowed, promised Denied',
        'handleSpotInterruption sends a forged Launch Workers Requested: Allowed, promised Denied',
        'reapIdleWorkers terminates an instance tagged by hand, with another profile: Allowed, promised Denied',
        'reapIdleWorkers terminates an instance tagged by hand, with no profile: Allowed, promised Denied',
      ].sort(),
    );
  });

  it("breaks the rows of issue #27's findings when its statements are undone, and only those", async () => {
    const undone = structuredClone(template);
    const ISSUE_27 = [
      'StandardStorageOnly',
      'NoCustomerKeys',
      'BucketEncryptionOnly',
      'NeverTerminateProtected',
      'FleetLogsFromTheFleetBucketOnly',
      'StateLogsFromTheStateBucketOnly',
      'TrailLogsFromTheAccessTrailOnly',
      'ConfigWrittenByItsWritersOnly',
    ];
    const keep = (statements: unknown[]) =>
      statements.filter((statement) => {
        const sid = (statement as { Sid?: string; 'Fn::If'?: [string, { Sid?: string }] }).Sid;
        const optional = (statement as { 'Fn::If'?: [string, { Sid?: string }] })['Fn::If']?.[1].Sid;
        return !ISSUE_27.includes(sid ?? optional ?? '');
      });
    for (const resource of Object.values(undone.Resources)) {
      const properties = resource.Properties as {
        Policies?: { PolicyName: string; PolicyDocument: Policy }[];
        PolicyDocument?: Policy;
      };
      // The worker role's deny of every parameter but its own, and the allow beside it.
      if (properties.Policies !== undefined) {
        properties.Policies = properties.Policies.filter(
          ({ PolicyName }) => PolicyName !== 'named-parameters',
        );
        for (const { PolicyDocument } of properties.Policies) {
          PolicyDocument.Statement = keep(PolicyDocument.Statement) as Policy['Statement'];
        }
      }
      if (properties.PolicyDocument !== undefined) {
        properties.PolicyDocument.Statement = keep(
          properties.PolicyDocument.Statement,
        ) as Policy['Statement'];
      }
    }

    expect((await brokenPromises(undone)).sort()).toEqual(
      [
        "a worker reads the stack's SSH private key: Allowed, promised Denied",
        "a worker reads the account's other parameters: Allowed, promised Denied",
        "a worker reads the account's other parameters in bulk: Allowed, promised Denied",
        'a worker writes its heartbeat in GLACIER: Allowed, promised Denied',
        'a worker writes its heartbeat in DEEP_ARCHIVE: Allowed, promised Denied',
        'a worker writes its results in GLACIER: Allowed, promised Denied',
        'a worker writes its heartbeat with a key of its own (SSE-C): Allowed, promised Denied',
        'a worker writes its heartbeat with a KMS key (SSE-KMS): Allowed, promised Denied',
        'reapIdleWorkers terminates a protected worker: Allowed, promised Denied',
        'reapIdleWorkers terminates a worker protected with any value: Allowed, promised Denied',
        "a role that may write anywhere in S3 writes a forged access log where logS3Access reads the fleet bucket's: Allowed, promised Denied",
        "a role that may write anywhere in S3 writes a forged access log under the state bucket's prefix: Allowed, promised Denied",
        'a role that may write anywhere in S3 writes a forged trail log: Allowed, promised Denied',
        'the log bucket: another trail of the account delivers under trail/: Allowed, promised Denied',
        'the state bucket: a role that may write anywhere in S3 rewrites the fleet configuration: Allowed, promised Denied',
        'the state bucket: a role that may write anywhere in S3 deletes the fleet configuration: Allowed, promised Denied',
      ].sort(),
    );
  });

  it('lets workers read the parameters the stage names for them, and refuses a name that reaches the key pairs', async () => {
    const workerParameters = createRequire(__filename)('../../config/worker-parameters.cjs') as ((source: {
      resolveVariable: (name: string) => Promise<string>;
    }) => Promise<unknown>) & { parameterNames: (value: string) => string[] };
    const resources = await workerParameters({
      resolveVariable: async () => '/team/worker/*, /team/license',
    });
    const named = structuredClone(template);
    const policies = named.Resources.WorkerRole?.Properties.Policies as {
      PolicyName: string;
      PolicyDocument: Policy;
    }[];
    for (const { PolicyDocument } of policies) {
      for (const statement of PolicyDocument.Statement) {
        if ('NotResource' in statement) statement.NotResource = resources;
        else if (JSON.stringify(statement.Action).includes('ssm:')) statement.Resource = resources;
      }
    }
    const reads = async (name: string) =>
      asVerdict(await decide(named, 'WorkerRole', workerSession, ask.parameter(name)));

    expect({
      token: await reads('/team/worker/token'),
      license: await reads('/team/license'),
      public: await reads(PUBLIC_PARAMETER),
      sibling: await reads('/team/license-old'),
      other: await reads('/team/db/password'),
      key: await reads(SSH_PRIVATE_KEY),
    }).toEqual({
      token: 'Allowed',
      license: 'Allowed',
      public: 'Allowed',
      sibling: 'Denied',
      other: 'Denied',
      key: 'Denied',
    });
    for (const name of ['/*', '/ec2/*', '/ec2/keypair/key-0123456789abcdef0', 'team/worker']) {
      expect(() => workerParameters.parameterNames(name)).toThrow(/param workerParameters/);
    }
    expect(workerParameters.parameterNames(' /ec2, /team/b ,/team/a,')).toEqual([
      '/ec2',
      '/team/a',
      '/team/b',
    ]);
  });

  it("lets the launching roles read the account's parameters a fleet names as its ami, and no other", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-ami-parameters-'));
    const fleetsFile = join(dir, 'fleets.yml');
    const fleet = (ami: string) =>
      `{ ami: "${ami}", instanceTypes: [c7g.large], subnets: [subnet-0123456789abcdef0], market: spot, targetCapacity: 1 }`;
    writeFileSync(
      fleetsFile,
      [
        `batch: ${fleet('/team/ami/batch')}`,
        `gpu: ${fleet('/aws/service/ami/gpu')}`,
        `web: ${fleet('ami-0123456789abcdef0')}`,
      ].join('\n'),
    );
    process.env.WORKER_FLEET_FLEETS_FILE = fleetsFile;
    const amiParameters = createRequire(__filename)('../../config/ami-parameters.cjs') as (
      source: unknown,
    ) => Promise<unknown>;
    let resources: unknown;
    try {
      resources = await amiParameters({ resolveVariable: async () => 'unused' });
    } finally {
      delete process.env.WORKER_FLEET_FLEETS_FILE;
    }
    const named = structuredClone(template);
    for (const role of [FUNCTIONS.launchWorkers.role, FUNCTIONS.handleSpotInterruption.role]) {
      for (const statement of statementsOf(named, role)) {
        if (statement.Action === 'ssm:GetParameter') statement.Resource = resources;
      }
    }
    const reads = async (role: string, name: string) =>
      asVerdict(
        await decide(named, role, functionSession('launchWorkers'), {
          action: 'ssm:GetParameter',
          resource: arn.parameter(name),
        }),
      );

    for (const role of [FUNCTIONS.launchWorkers.role, FUNCTIONS.handleSpotInterruption.role]) {
      expect({ role, named: await reads(role, '/team/ami/batch') }).toEqual({ role, named: 'Allowed' });
      expect({ role, public: await reads(role, '/aws/service/ami/gpu') }).toEqual({
        role,
        public: 'Allowed',
      });
      expect({ role, other: await reads(role, '/team/ami/batch-old') }).toEqual({ role, other: 'Denied' });
      expect({ role, secret: await reads(role, '/team/db/password') }).toEqual({ role, secret: 'Denied' });
    }
  });
});
