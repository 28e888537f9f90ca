import {
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeSubnetsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';

/** What a user's account has before worker-fleet arrives: subnets, an AMI, a key pair and a security group. */
export interface SeededAccount {
  readonly imageId: string;
  readonly subnets: readonly { subnetId: string; availabilityZone: string }[];
  readonly keyName: string;
  readonly securityGroupId: string;
}

/** Reads the emulator's default subnets and an Amazon AMI, and creates a key pair and an SSH security group. */
export async function seedAccount(ec2: EC2Client): Promise<SeededAccount> {
  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }));
  const imageId = images.Images?.find((image) => image.ImageId?.startsWith('ami-'))?.ImageId;
  if (imageId === undefined) throw new Error('the emulator lists no Amazon AMI');
  const described = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }),
  );
  const subnets = (described.Subnets ?? [])
    .map((subnet) => ({ subnetId: subnet.SubnetId ?? '', availabilityZone: subnet.AvailabilityZone ?? '' }))
    .sort((a, b) => a.availabilityZone.localeCompare(b.availabilityZone));
  const keyName = 'worker-ssh';
  await ec2.send(new CreateKeyPairCommand({ KeyName: keyName }));
  const group = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'worker-ssh', Description: 'ssh' }),
  );
  return { imageId, subnets, keyName, securityGroupId: group.GroupId ?? '' };
}
