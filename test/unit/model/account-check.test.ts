import {
  type AccountFacts,
  accountLookups,
  checkFleetsAgainstAccount,
} from '../../../src/model/account-check';
import { fleetsSchema } from '../../../src/model/fleet-spec';
import { fleetJson } from '../fixtures';

const A = 'subnet-0123456789abcdef0';
const B = 'subnet-0fedcba9876543210';

/** An account that has everything fleetJson names: an arm64 image, both Graviton types in both zones, one VPC. */
function facts(overrides: Partial<AccountFacts> = {}): AccountFacts {
  return {
    region: 'eu-west-1',
    imageIds: { 'ami-0123456789abcdef0': 'ami-0123456789abcdef0' },
    images: { 'ami-0123456789abcdef0': { architecture: 'arm64' } },
    instanceTypes: {
      'c7g.large': { architectures: ['arm64'], zones: ['eu-west-1a', 'eu-west-1b'] },
      'm7g.large': { architectures: ['arm64'], zones: ['eu-west-1a', 'eu-west-1b'] },
    },
    subnets: {
      [A]: { vpcId: 'vpc-1', availabilityZone: 'eu-west-1a' },
      [B]: { vpcId: 'vpc-1', availabilityZone: 'eu-west-1b' },
    },
    keyPairs: ['ops'],
    securityGroups: { 'sg-0123456789abcdef0': { vpcId: 'vpc-1' } },
    ...overrides,
  };
}

const fleets = (overrides: Record<string, unknown> = {}) =>
  fleetsSchema.parse({
    batch: fleetJson({ keyName: 'ops', securityGroupIds: ['sg-0123456789abcdef0'], ...overrides }),
  });

describe('checkFleetsAgainstAccount', () => {
  it('finds no problem when the account has everything the fleet names', () => {
    expect(checkFleetsAgainstAccount(fleets(), facts())).toEqual([]);
  });

  it('asks for each name once, over every fleet', () => {
    const both = fleetsSchema.parse({
      a: fleetJson(),
      b: fleetJson({ instanceTypes: ['c7g.large', 'c7g.xlarge'] }),
    });

    expect(accountLookups(both)).toEqual({
      amis: ['ami-0123456789abcdef0'],
      instanceTypes: ['c7g.large', 'c7g.xlarge', 'm7g.large'],
      subnets: [A, B],
      keyPairs: [],
      securityGroups: [],
    });
  });

  it('names an architecture the image does not have, and a zone that does not offer a type', () => {
    const account = facts({
      images: { 'ami-0123456789abcdef0': { architecture: 'x86_64' } },
      instanceTypes: {
        'c7g.large': { architectures: ['arm64'], zones: ['eu-west-1a'] },
        'm7g.large': { architectures: ['i386', 'x86_64'], zones: ['eu-west-1a', 'eu-west-1b'] },
      },
    });

    expect(checkFleetsAgainstAccount(fleets(), account).map((problem) => problem.message)).toEqual([
      'c7g.large runs arm64, but image ami-0123456789abcdef0 is x86_64',
      `c7g.large is not offered in eu-west-1b (subnet ${B})`,
    ]);
  });

  it('checks no architecture when the image is not there, and no zone of a subnet that is not there', () => {
    const account = facts({
      images: {},
      subnets: { [A]: { vpcId: 'vpc-1', availabilityZone: 'eu-west-1c' } },
    });

    expect(checkFleetsAgainstAccount(fleets(), account)).toEqual([
      {
        fleet: 'batch',
        field: 'ami',
        message: 'image ami-0123456789abcdef0 is not in eu-west-1, or not shared with this account',
      },
      {
        fleet: 'batch',
        field: 'instanceTypes',
        message: `c7g.large is not offered in eu-west-1c (subnet ${A})`,
      },
      {
        fleet: 'batch',
        field: 'instanceTypes',
        message: `m7g.large is not offered in eu-west-1c (subnet ${A})`,
      },
      { fleet: 'batch', field: 'subnets', message: `subnet ${B} is not in eu-west-1` },
    ]);
  });

  it('names subnets of two VPCs, and checks no security group against either', () => {
    const account = facts({
      subnets: {
        [A]: { vpcId: 'vpc-1', availabilityZone: 'eu-west-1a' },
        [B]: { vpcId: 'vpc-2', availabilityZone: 'eu-west-1b' },
      },
      securityGroups: { 'sg-0123456789abcdef0': { vpcId: 'vpc-2' } },
    });

    expect(checkFleetsAgainstAccount(fleets(), account).map((problem) => problem.message)).toEqual([
      `the subnets are in 2 VPCs (${A} in vpc-1; ${B} in vpc-2): a fleet's subnets share one VPC`,
    ]);
  });

  it('names a missing key pair, a missing security group and one of another VPC', () => {
    const account = facts({ keyPairs: [], securityGroups: { 'sg-0fedcba9876543210': { vpcId: 'vpc-9' } } });

    expect(
      checkFleetsAgainstAccount(
        fleets({ securityGroupIds: ['sg-0123456789abcdef0', 'sg-0fedcba9876543210'] }),
        account,
      ),
    ).toEqual([
      { fleet: 'batch', field: 'keyName', message: 'key pair ops is not in eu-west-1' },
      {
        fleet: 'batch',
        field: 'securityGroupIds',
        message: 'security group sg-0123456789abcdef0 is not in eu-west-1',
      },
      {
        fleet: 'batch',
        field: 'securityGroupIds',
        message: 'security group sg-0fedcba9876543210 is in vpc-9, the subnets in vpc-1',
      },
    ]);
  });

  it('names an SSM parameter that resolves to no image, and a type EC2 does not know', () => {
    const account = facts({ imageIds: {}, instanceTypes: {} });

    expect(
      checkFleetsAgainstAccount(fleets({ ami: '/images/worker', instanceTypes: ['c7g.huge'] }), account).map(
        (problem) => problem.message,
      ),
    ).toEqual([
      'SSM parameter /images/worker is not in eu-west-1, or holds no AMI id',
      'c7g.huge is not an instance type EC2 offers in eu-west-1',
    ]);
  });
});
