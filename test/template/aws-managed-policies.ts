import type { Policy } from '../../checks/iam-policies';

/** An AWS managed policy as pinned here: its ARN, the version its document was taken from, and the document. */
export interface PinnedManagedPolicy {
  readonly arn: string;
  readonly versionId: string;
  /** When AWS made that version the default. */
  readonly versionDate: string;
  readonly document: Policy;
}

/**
 * The AWS managed policies the stack attaches, as AWS holds them: the IAM simulation evaluates them beside the
 * template's own policies (a role's permissions are the union of both; a managed policy allows what no inline
 * statement shows). Each is pinned with its version. When AWS publishes a new default version
 * (`aws iam get-policy --policy-arn <arn>` shows `DefaultVersionId`), replace the document and the version here and
 * run the template tests: a row the new version breaks fails.
 */
export const AWS_MANAGED_POLICIES: readonly PinnedManagedPolicy[] = [
  {
    // Source: `aws iam get-policy-version --policy-arn arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore
    // --version-id v2`, as published in the AWS Managed Policy Reference
    // (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html):
    // version v2, the default since 2019-05-23T16:54:21Z. Its first statement allows ssm:GetParameter(s) on `*`.
    arn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    versionId: 'v2',
    versionDate: '2019-05-23T16:54:21Z',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: [
            'ssm:DescribeAssociation',
            'ssm:GetDeployablePatchSnapshotForInstance',
            'ssm:GetDocument',
            'ssm:DescribeDocument',
            'ssm:GetManifest',
            'ssm:GetParameter',
            'ssm:GetParameters',
            'ssm:ListAssociations',
            'ssm:ListInstanceAssociations',
            'ssm:PutInventory',
            'ssm:PutComplianceItems',
            'ssm:PutConfigurePackageResult',
            'ssm:UpdateAssociationStatus',
            'ssm:UpdateInstanceAssociationStatus',
            'ssm:UpdateInstanceInformation',
          ],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'ssmmessages:CreateControlChannel',
            'ssmmessages:CreateDataChannel',
            'ssmmessages:OpenControlChannel',
            'ssmmessages:OpenDataChannel',
          ],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'ec2messages:AcknowledgeMessage',
            'ec2messages:DeleteMessage',
            'ec2messages:FailMessage',
            'ec2messages:GetEndpoint',
            'ec2messages:GetMessages',
            'ec2messages:SendReply',
          ],
          Resource: '*',
        },
      ],
    },
  },
];

/** The pinned document of a managed policy a role carries; a policy not pinned here fails the simulation. */
export function managedPolicy(arn: string): { name: string; policy: Policy } {
  const pinned = AWS_MANAGED_POLICIES.find((policy) => policy.arn === arn);
  if (pinned === undefined) {
    throw new Error(
      `${arn} is not pinned in test/template/aws-managed-policies.ts: add its document and version`,
    );
  }
  return { name: `${arn.split('/').pop()}@${pinned.versionId}`, policy: pinned.document };
}
