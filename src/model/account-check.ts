import type { FleetSpec } from './fleet-spec';

/**
 * What the account says about the things the fleets name, as read-only EC2 and SSM calls answer (read by
 * src/aws/account-facts.ts). A name absent from a map is one the account does not have.
 */
export interface AccountFacts {
  readonly region: string;
  /** Each fleet's `ami` as written: the image id it resolves to (absent: an SSM parameter not found or no AMI id). */
  readonly imageIds: Readonly<Record<string, string>>;
  /** Each image found, by id: its architecture (`x86_64`, `arm64`, ...). */
  readonly images: Readonly<Record<string, { readonly architecture: string }>>;
  /** Each instance type EC2 knows in the region: the architectures it runs and the zones that offer it. */
  readonly instanceTypes: Readonly<
    Record<string, { readonly architectures: readonly string[]; readonly zones: readonly string[] }>
  >;
  readonly subnets: Readonly<Record<string, { readonly vpcId: string; readonly availabilityZone: string }>>;
  readonly keyPairs: readonly string[];
  readonly securityGroups: Readonly<Record<string, { readonly vpcId: string }>>;
}

/** One thing a fleet names that the account would refuse at RunInstances, by the fleet and its field. */
export interface AccountProblem {
  readonly fleet: string;
  readonly field: 'ami' | 'instanceTypes' | 'subnets' | 'keyName' | 'securityGroupIds';
  readonly message: string;
}

/** What the fleets ask of the account: every name the checks look up, each once. */
export function accountLookups(fleets: Readonly<Record<string, FleetSpec>>) {
  const specs = Object.values(fleets);
  const unique = (values: readonly string[]) => [...new Set(values)].sort();
  return {
    amis: unique(specs.map((spec) => spec.ami)),
    instanceTypes: unique(specs.flatMap((spec) => spec.instanceTypes)),
    subnets: unique(specs.flatMap((spec) => spec.subnets)),
    keyPairs: unique(specs.flatMap((spec) => (spec.keyName === undefined ? [] : [spec.keyName]))),
    securityGroups: unique(specs.flatMap((spec) => spec.securityGroupIds)),
  };
}

/** The problems of one fleet, in the order of its fields. */
function checkFleet(fleet: string, spec: FleetSpec, facts: AccountFacts): AccountProblem[] {
  const problems: AccountProblem[] = [];
  const problem = (field: AccountProblem['field'], message: string) =>
    problems.push({ fleet, field, message });

  const imageId = facts.imageIds[spec.ami];
  const image = imageId === undefined ? undefined : facts.images[imageId];
  if (imageId === undefined) {
    problem('ami', `SSM parameter ${spec.ami} is not in ${facts.region}, or holds no AMI id`);
  } else if (image === undefined) {
    problem('ami', `image ${imageId} is not in ${facts.region}, or not shared with this account`);
  }

  for (const type of spec.instanceTypes) {
    const known = facts.instanceTypes[type];
    if (known === undefined) {
      problem('instanceTypes', `${type} is not an instance type EC2 offers in ${facts.region}`);
      continue;
    }
    if (image !== undefined && !known.architectures.includes(image.architecture)) {
      problem(
        'instanceTypes',
        `${type} runs ${known.architectures.join(' or ')}, but image ${imageId} is ${image.architecture}`,
      );
    }
    for (const subnetId of spec.subnets) {
      const subnet = facts.subnets[subnetId];
      if (subnet !== undefined && !known.zones.includes(subnet.availabilityZone)) {
        problem('instanceTypes', `${type} is not offered in ${subnet.availabilityZone} (subnet ${subnetId})`);
      }
    }
  }

  const vpcs = new Map<string, string[]>();
  for (const subnetId of spec.subnets) {
    const subnet = facts.subnets[subnetId];
    if (subnet === undefined) {
      problem('subnets', `subnet ${subnetId} is not in ${facts.region}`);
      continue;
    }
    vpcs.set(subnet.vpcId, [...(vpcs.get(subnet.vpcId) ?? []), subnetId]);
  }
  if (vpcs.size > 1) {
    const where = [...vpcs].map(([vpc, subnets]) => `${subnets.join(', ')} in ${vpc}`).join('; ');
    problem('subnets', `the subnets are in ${vpcs.size} VPCs (${where}): a fleet's subnets share one VPC`);
  }

  if (spec.keyName !== undefined && !facts.keyPairs.includes(spec.keyName)) {
    problem('keyName', `key pair ${spec.keyName} is not in ${facts.region}`);
  }

  const [vpc] = vpcs.size === 1 ? [...vpcs.keys()] : [];
  for (const groupId of spec.securityGroupIds) {
    const group = facts.securityGroups[groupId];
    if (group === undefined) {
      problem('securityGroupIds', `security group ${groupId} is not in ${facts.region}`);
    } else if (vpc !== undefined && group.vpcId !== vpc) {
      problem('securityGroupIds', `security group ${groupId} is in ${group.vpcId}, the subnets in ${vpc}`);
    }
  }
  return problems;
}

/**
 * Every problem the account would answer at RunInstances, fleet by fleet: an image or a parameter that is not
 * there, an instance type EC2 does not know, one whose architecture is not the image's, one not offered in a
 * subnet's zone, subnets of two VPCs or not there, a key pair or a security group that is not there (or of another
 * VPC). Empty when the account has everything the fleets name.
 */
export function checkFleetsAgainstAccount(
  fleets: Readonly<Record<string, FleetSpec>>,
  facts: AccountFacts,
): AccountProblem[] {
  return Object.entries(fleets).flatMap(([fleet, spec]) => checkFleet(fleet, spec, facts));
}
