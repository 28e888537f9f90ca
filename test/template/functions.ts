/**
 * The functions of serverless.yml and what each may do: the table both template.test.ts (what the packaged
 * template holds) and iam-simulation.test.ts (what its policies allow, evaluated) take their rows from.
 */
/**
 * What the control plane does with its state table (docs/reconciliation.md: facts, fenced leases, launch intents,
 * claims, the worker registry and pool memory, one item each; a fenced commit is a transaction with a condition check).
 */
const STATE_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
] as const;

/**
 * What launching workers calls: read what runs, run and tag, pass the worker role, notify, read the fleet
 * configuration, keep its state in the state table.
 */
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
  ...STATE_TABLE_ACTIONS,
] as const;

/**
 * Every function of serverless.yml, by its name there: its role in infra/iam.yml; the EventBridge rules that
 * invoke it (`schedule`, or the detail-types of the rule's pattern); what its code calls (its role must grant it)
 * and what would be another function's job (its role must not); the actions it may take on the state table (the
 * control plane's state; the state bucket keeps only the fleet configuration). The template tests take the
 * functions, their roles, their rules and their calls from here: a new function is a new row.
 */
export const FUNCTIONS = {
  launchWorkers: {
    role: 'LaunchWorkersRole',
    rules: ['schedule', 'schedule', 'Launch Workers Requested', 'AWS Health Event'],
    // Its notifications go on the bus too (test/template/observability.test.ts: which detail-types).
    calls: [...LAUNCH_CALLS, 'events:PutEvents'],
    never: [
      'ec2:TerminateInstances',
      'ec2:DeleteTags',
      's3:PutObject',
      's3:DeleteObject',
      'cloudwatch:GetMetricData',
      'dynamodb:Scan',
      'dynamodb:DeleteTable',
    ],
    stateTable: STATE_TABLE_ACTIONS,
  },
  handleSpotInterruption: {
    role: 'SpotInterruptionRole',
    rules: [
      'EC2 Spot Instance Interruption Warning',
      'EC2 Instance Rebalance Recommendation',
      'EC2 Instance State-change Notification',
    ],
    // It launches replacements as launchWorkers does; it also gives claims back (items of the state table, not
    // objects) and emits Worker Draining.
    calls: [...LAUNCH_CALLS, 'events:PutEvents'],
    never: [
      'ec2:TerminateInstances',
      'ec2:DeleteTags',
      's3:PutObject',
      's3:DeleteObject',
      'cloudwatch:GetMetricData',
      'dynamodb:Scan',
      'dynamodb:DeleteTable',
    ],
    stateTable: STATE_TABLE_ACTIONS,
  },
  reapIdleWorkers: {
    role: 'ReapIdleWorkersRole',
    // The reap schedule (idle workers, off by default) and the retire schedule (retirements, on by default).
    rules: ['schedule', 'schedule'],
    calls: [
      'ec2:DescribeInstances',
      // The backstop of AWS Health's scheduled changes: the workers' scheduled events.
      'ec2:DescribeInstanceStatus',
      'cloudwatch:GetMetricData',
      'ec2:CreateTags',
      'ec2:DeleteTags',
      'ec2:TerminateInstances',
      'sns:Publish',
      'events:PutEvents',
      's3:ListBucket',
      's3:GetObject',
      // Its fenced lease, the request that lowers the fleet's size by the workers it retires, and the fleet's
      // retirements: read with its facts, recorded and forgotten (only a fleet's items: dynamodb:LeadingKeys).
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:Query',
      'dynamodb:DeleteItem',
    ],
    // It neither removes claims nor registry entries, nor scans beyond its own items.
    never: [
      'ec2:RunInstances',
      'iam:PassRole',
      'ssm:GetParameter',
      's3:PutObject',
      's3:DeleteObject',
      'dynamodb:Scan',
    ],
    stateTable: [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:Query',
      'dynamodb:DeleteItem',
    ],
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
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    ],
    stateTable: [],
  },
} as const;
