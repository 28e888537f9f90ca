/**
 * The functions of serverless.yml and what each may do: the table both template.test.ts (what the packaged
 * template holds) and iam-simulation.test.ts (what its policies allow, evaluated) take their rows from.
 */
/** What launching workers calls: read what runs, run and tag, pass the worker role, notify, steer by pool memory. */
const LAUNCH_CALLS = [
  'ec2:DescribeInstances',
  'ec2:DescribeImages',
  'ec2:RunInstances',
  'ec2:CreateTags',
  'iam:PassRole',
  'sns:Publish',
  'ssm:GetParameter',
  's3:ListBucket',
  's3:GetObject',
  's3:PutObject',
] as const;

/**
 * Every function of serverless.yml, by its name there: its role in infra/iam.yml; the EventBridge rules that
 * invoke it (`schedule`, or the detail-types of the rule's pattern); what its code calls (its role must grant it)
 * and what would be another function's job (its role must not); what it may do with the worker registry; the
 * state bucket prefixes it may write (docs/reconciliation.md: facts and leases; claims; pool memory). The
 * template tests take the functions, their roles, their rules and their calls from here: a new function is a new row.
 */
export const FUNCTIONS = {
  launchWorkers: {
    role: 'LaunchWorkersRole',
    rules: ['schedule', 'schedule', 'Launch Workers Requested'],
    // Its notifications go on the bus too (test/template/observability.test.ts: which detail-types).
    calls: [...LAUNCH_CALLS, 'events:PutEvents'],
    never: ['ec2:TerminateInstances', 'ec2:DeleteTags', 's3:DeleteObject', 'cloudwatch:GetMetricData'],
    registry: ['s3:PutObject'],
    state: ['fleets', 'leases', 'pool-memory', 'workers'],
  },
  handleSpotInterruption: {
    role: 'SpotInterruptionRole',
    rules: [
      'EC2 Spot Instance Interruption Warning',
      'EC2 Instance Rebalance Recommendation',
      'EC2 Instance State-change Notification',
    ],
    // It launches replacements as launchWorkers does; it also gives claims back and emits Worker Draining.
    calls: [...LAUNCH_CALLS, 's3:DeleteObject', 'events:PutEvents'],
    never: ['ec2:TerminateInstances', 'ec2:DeleteTags', 'cloudwatch:GetMetricData'],
    registry: ['s3:GetObject', 's3:PutObject'],
    state: ['claims', 'fleets', 'leases', 'pool-memory', 'workers'],
  },
  reapIdleWorkers: {
    role: 'ReapIdleWorkersRole',
    rules: ['schedule'],
    calls: [
      'ec2:DescribeInstances',
      'cloudwatch:GetMetricData',
      'ec2:CreateTags',
      'ec2:DeleteTags',
      'ec2:TerminateInstances',
      'sns:Publish',
      'events:PutEvents',
      's3:ListBucket',
      's3:GetObject',
    ],
    never: ['ec2:RunInstances', 'iam:PassRole', 'ssm:GetParameter', 's3:DeleteObject'],
    registry: [],
    state: ['fleets', 'leases'],
  },
  logS3Access: {
    role: 'LogS3AccessRole',
    rules: ['Object Created,Object Deleted', 'Object Created', 'AWS API Call via CloudTrail'],
    calls: ['ec2:DescribeInstances', 's3:GetObject', 'sns:Publish', 'events:PutEvents'],
    never: [
      'ec2:RunInstances',
      'ec2:CreateTags',
      'ec2:DeleteTags',
      'ec2:TerminateInstances',
      'iam:PassRole',
      's3:PutObject',
      's3:DeleteObject',
    ],
    registry: [],
    state: [],
  },
} as const;
