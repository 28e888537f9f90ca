/**
 * The packaged template's IAM policies as a deployment would hold them: every intrinsic function resolved to the
 * names CloudFormation would give (one made-up account, region and suffix), policy variables such as
 * `${aws:userid}` kept. The template's policy simulation (test/template/iam-simulation.test.ts) evaluates them;
 * scripts/check-template.sh writes them out for the IAM policy linter (checks/write-iam-policies.ts).
 */

export interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; Condition?: string }>;
}

export interface Policy {
  Version: string;
  Statement: Record<string, unknown>[];
}

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
/** The worker role's id as `GetAtt WorkerRole.RoleId` would give it. */
export const WORKER_ROLE_ID = 'AROAWORKERROLEID00001';
/**
 * Conditions of the template, as a stage that opts into everything has them (every optional statement present); the
 * worker role carries only the managed policy the stack always attaches (none of a stage's own).
 */
const CONDITIONS: Record<string, boolean> = {
  HasAccessTrail: true,
  HasAlertEmail: true,
  HasWorkerManagedPolicyArns: false,
  HasConfigWriters: true,
};
/** The template's list parameters, as that stage sets them. */
const LIST_PARAMETERS: Record<string, string[]> = {
  /** Who deploys, and an SSO role of operators: the principals that may write the fleet configuration. */
  ConfigWriters: [
    `arn:aws:iam::${ACCOUNT}:role/deployer`,
    `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*AdministratorAccess*`,
  ],
};
const NO_VALUE = Symbol('AWS::NoValue');

/** What the stage's references and attributes resolve to once deployed. */
export function deployedNames(stage: string) {
  const managedBy = `worker-fleet-${stage}`;
  const buckets = {
    FleetBucket: `${managedBy}-fleetbucket-1a2b3c`,
    StateBucket: `${managedBy}-statebucket-1a2b3c`,
    LogBucket: `${managedBy}-logbucket-1a2b3c`,
    /** The framework's own, for the functions' code. */
    ServerlessDeploymentBucket: `${managedBy}-serverlessdeploymentbucket-1a2b3c`,
  } as const;
  const workerProfileArn = `arn:aws:iam::${ACCOUNT}:instance-profile/${managedBy}-worker`;
  const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT}:${managedBy}`;
  /** The control plane's state table, as CloudFormation names it (the stack, the logical id, a suffix). */
  const stateTable = `${managedBy}-StateTable-1A2B3C`;
  const stateTableArn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${stateTable}`;
  const refs: Record<string, string> = {
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': REGION,
    'AWS::Partition': 'aws',
    FleetTopic: topicArn,
    FleetKey: '0a1b2c3d-0000-0000-0000-000000000000',
    WorkerRole: `${managedBy}-worker`,
    WorkerInstanceProfile: `${managedBy}-worker`,
    StateTable: stateTable,
    EventDeliveryFailureQueue: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${managedBy}-event-delivery-failures`,
    ...buckets,
  };
  const attributes: Record<string, string> = {
    ...Object.fromEntries(Object.entries(buckets).map(([id, name]) => [`${id}.Arn`, `arn:aws:s3:::${name}`])),
    'StateTable.Arn': stateTableArn,
    'WorkerRole.Arn': `arn:aws:iam::${ACCOUNT}:role/${managedBy}-worker`,
    'WorkerRole.RoleId': WORKER_ROLE_ID,
    'WorkerInstanceProfile.Arn': workerProfileArn,
    'FleetKey.Arn': `arn:aws:kms:${REGION}:${ACCOUNT}:key/0a1b2c3d-0000-0000-0000-000000000000`,
    'FunctionFailureQueue.Arn': `arn:aws:sqs:${REGION}:${ACCOUNT}:${managedBy}-function-failures`,
    'EventDeliveryFailureQueue.Arn': `arn:aws:sqs:${REGION}:${ACCOUNT}:${managedBy}-event-delivery-failures`,
  };
  return { managedBy, buckets, stateTable, stateTableArn, workerProfileArn, topicArn, refs, attributes };
}

function known<T>(table: Record<string, T>, name: string): T {
  if (!Object.hasOwn(table, name)) throw new Error(`no deployed value for ${name}`);
  return table[name] as T;
}

/** A packaged value with CloudFormation's intrinsic functions resolved as the stage's deployment would. */
export function resolve(value: unknown, stage: string): unknown {
  const { refs, attributes } = deployedNames(stage);
  // Fn::Sub: `${Name}` and `${Name.Attribute}` resolved, `${!literal}` left as `${literal}` (a policy variable).
  const substitute = (text: string) =>
    text.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) =>
      literal === '!' ? `\${${name}}` : name.includes('.') ? known(attributes, name) : known(refs, name),
    );
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit).filter((item) => item !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node);
    const [fn, argument] = entries[0] ?? [];
    if (entries.length === 1 && fn !== undefined) {
      if (fn === 'Ref') {
        if (argument === 'AWS::NoValue') return NO_VALUE;
        return Object.hasOwn(LIST_PARAMETERS, String(argument))
          ? known(LIST_PARAMETERS, String(argument))
          : known(refs, String(argument));
      }
      if (fn === 'Fn::GetAtt') return known(attributes, (argument as string[]).join('.'));
      if (fn === 'Fn::Sub') return substitute(argument as string);
      if (fn === 'Fn::If') {
        const [condition, yes, no] = argument as [string, unknown, unknown];
        return visit(known(CONDITIONS, condition) ? yes : no);
      }
      if (fn === 'Fn::Join') {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map(visit).join(separator);
      }
      if (fn.startsWith('Fn::')) throw new Error(`unresolved ${fn} in a policy`);
    }
    return Object.fromEntries(entries.map(([key, nested]) => [key, visit(nested)]));
  };
  return visit(value);
}

/** Every identity policy of a role in the template, resolved. */
export function rolePolicies(template: Template, role: string, stage: string) {
  const policies = known(template.Resources, role).Properties.Policies as {
    PolicyName: string;
    PolicyDocument: Policy;
  }[];
  return policies.map(({ PolicyName, PolicyDocument }) => ({
    name: PolicyName,
    policy: resolve(PolicyDocument, stage) as Policy,
  }));
}

/** The ARNs of the managed policies a role carries, resolved (AWS's own, such as AmazonSSMManagedInstanceCore). */
export function managedPolicyArns(template: Template, role: string, stage: string): string[] {
  const arns = known(template.Resources, role).Properties.ManagedPolicyArns;
  return arns === undefined ? [] : (resolve(arns, stage) as string[]);
}

/** The policy document of a policy resource (a bucket, topic or queue policy), resolved. */
export const resourcePolicy = (template: Template, logicalId: string, stage: string) =>
  resolve(known(template.Resources, logicalId).Properties.PolicyDocument, stage) as Policy;

const RESOURCE_POLICY_TYPES = ['AWS::S3::BucketPolicy', 'AWS::SNS::TopicPolicy', 'AWS::SQS::QueuePolicy'];

/** Every policy of the template, resolved and named `<logical id>.<policy name>`: identity, then resource policies. */
export function templatePolicies(template: Template, stage: string) {
  const resources = Object.entries(template.Resources);
  return [
    ...resources
      .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
      .flatMap(([role]) =>
        rolePolicies(template, role, stage).map(({ name, policy }) => ({
          name: `${role}.${name}`,
          kind: 'identity' as const,
          policy,
        })),
      ),
    ...resources
      .filter(([, resource]) => RESOURCE_POLICY_TYPES.includes(resource.Type))
      .map(([logicalId]) => ({
        name: logicalId,
        kind: 'resource' as const,
        policy: resourcePolicy(template, logicalId, stage),
      })),
  ];
}
