import {
  DescribeImagesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  paginateDescribeInstanceTypeOfferings,
  paginateDescribeInstanceTypes,
} from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { type AccountFacts, accountLookups } from '../model/account-check';
import type { FleetSpec } from '../model/fleet-spec';
import { resolveImageId } from './image';

/** An SSM parameter that is not there, or holds no AMI id: the fleet's `ami` resolves to nothing. */
async function resolveOrNothing(ssm: SSMClient, ami: string): Promise<[string, string] | []> {
  try {
    return [ami, await resolveImageId(ssm, ami)];
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ParameterNotFound' || name === 'ConfigError') return [];
    throw error;
  }
}

/**
 * Reads, with read-only calls, what the account has of the names the fleets use: their images (SSM parameters
 * resolved), instance types with their architectures and the zones offering them, subnets, key pairs and security
 * groups. Names are asked by filter, so one the account lacks is left out of the answer rather than failing it.
 */
export async function readAccountFacts(
  clients: { readonly ec2: EC2Client; readonly ssm: SSMClient },
  region: string,
  fleets: Readonly<Record<string, FleetSpec>>,
): Promise<AccountFacts> {
  const { ec2, ssm } = clients;
  const asked = accountLookups(fleets);
  const filter = (name: string, values: readonly string[]) => ({
    Filters: [{ Name: name, Values: [...values] }],
  });

  const imageIds: Record<string, string> = {};
  for (const [ami, imageId] of await Promise.all(asked.amis.map((ami) => resolveOrNothing(ssm, ami)))) {
    if (ami !== undefined && imageId !== undefined) imageIds[ami] = imageId;
  }
  const ids = [...new Set(Object.values(imageIds))];
  // Nothing to ask is no call: EC2 refuses a filter without values.
  const ask = async <T>(values: readonly string[], call: () => Promise<T[] | undefined>) =>
    values.length === 0 ? [] : ((await call()) ?? []);
  const [images, subnets, keyPairs, groups] = await Promise.all([
    ask(ids, async () => (await ec2.send(new DescribeImagesCommand(filter('image-id', ids)))).Images),
    ask(
      asked.subnets,
      async () => (await ec2.send(new DescribeSubnetsCommand(filter('subnet-id', asked.subnets)))).Subnets,
    ),
    ask(
      asked.keyPairs,
      async () => (await ec2.send(new DescribeKeyPairsCommand(filter('key-name', asked.keyPairs)))).KeyPairs,
    ),
    ask(
      asked.securityGroups,
      async () =>
        (await ec2.send(new DescribeSecurityGroupsCommand(filter('group-id', asked.securityGroups))))
          .SecurityGroups,
    ),
  ]);

  const instanceTypes: Record<string, { architectures: string[]; zones: string[] }> = {};
  if (asked.instanceTypes.length > 0) {
    for await (const page of paginateDescribeInstanceTypes(
      { client: ec2 },
      filter('instance-type', asked.instanceTypes),
    )) {
      for (const type of page.InstanceTypes ?? []) {
        if (type.InstanceType === undefined) continue;
        instanceTypes[type.InstanceType] = {
          architectures: type.ProcessorInfo?.SupportedArchitectures ?? [],
          zones: [],
        };
      }
    }
    for await (const page of paginateDescribeInstanceTypeOfferings(
      { client: ec2 },
      { LocationType: 'availability-zone', ...filter('instance-type', asked.instanceTypes) },
    )) {
      for (const offering of page.InstanceTypeOfferings ?? []) {
        const known = offering.InstanceType === undefined ? undefined : instanceTypes[offering.InstanceType];
        if (known !== undefined && offering.Location !== undefined) known.zones.push(offering.Location);
      }
    }
  }

  return {
    region,
    imageIds,
    images: Object.fromEntries(
      images.map((image) => [image.ImageId ?? '', { architecture: image.Architecture ?? '' }]),
    ),
    instanceTypes,
    subnets: Object.fromEntries(
      subnets.map((subnet) => [
        subnet.SubnetId ?? '',
        { vpcId: subnet.VpcId ?? '', availabilityZone: subnet.AvailabilityZone ?? '' },
      ]),
    ),
    keyPairs: keyPairs.map((pair) => pair.KeyName ?? ''),
    securityGroups: Object.fromEntries(
      groups.map((group) => [group.GroupId ?? '', { vpcId: group.VpcId ?? '' }]),
    ),
  };
}
