import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describeUnknownInstanceTypes, fleetSpecSchema, fleetsSchema } from '../../../src/model/fleet-spec';
import { describeIssues } from '../../../src/model/validation';
import { fleetJson } from '../fixtures';

function problems(json: Record<string, unknown>): string {
  const parsed = fleetSpecSchema.safeParse(json);
  return parsed.success ? '' : describeIssues(parsed.error);
}

describe('fleetSpecSchema', () => {
  it('accepts a minimal spec and fills the defaults', () => {
    expect(fleetSpecSchema.parse(fleetJson())).toEqual({
      ...fleetJson(),
      maxCapacity: 2,
      securityGroupIds: [],
      metadataHopLimit: 1,
      ssh: false,
      rebalance: 'notify',
      rebalanceRetireAfterMinutes: 2,
      agent: {
        enabled: true,
        heartbeatSeconds: 60,
        drainTimeoutSeconds: 90,
        plannedDrainTimeoutSeconds: 540,
      },
      drainGraceMinutes: 10,
      idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 10, terminateAfterMinutes: 10, minWorkers: 2 },
      tags: {},
    });
  });

  it('accepts retiring an at-risk worker as soon as its replacement runs', () => {
    const spec = fleetJson({ rebalance: 'replace-early', rebalanceRetireAfterMinutes: 0 });

    expect(fleetSpecSchema.parse(spec)).toMatchObject({ rebalanceRetireAfterMinutes: 0 });
  });

  it('accepts an on-demand fleet with every setting given, at the limits, and keeps them all', () => {
    const tags = Object.fromEntries(Array.from({ length: 40 }, (_, index) => [`tag-${index}`, 'x']));
    const spec = fleetJson({
      market: 'on-demand',
      targetCapacity: 3,
      maxCapacity: 3,
      keyName: 'ops',
      securityGroupIds: ['sg-0123456789abcdef0'],
      userData: 'x'.repeat(16 * 1024),
      rebalance: 'replace-early',
      rebalanceRetireAfterMinutes: 120,
      metadataHopLimit: 2,
      rootVolume: { sizeGiB: 16_384, type: 'gp3', iops: 16_000, encrypted: false },
      ssh: true,
      agent: {
        enabled: false,
        heartbeatSeconds: 30,
        busyCommand: 'test -f /run/busy',
        drainCommand: '/opt/worker/drain',
        drainTimeoutSeconds: 110,
        plannedDrainTimeoutSeconds: 86_400,
      },
      drainGraceMinutes: 1440,
      disruption: { budget: '100%' },
      idle: {
        heartbeatTimeoutMinutes: 30,
        cpu: { belowPercent: 5, maxPercent: 20, windowMinutes: 30, networkBelowBytes: 1000 },
        bootGraceMinutes: 5,
        maxLifetimeHours: 48,
        terminateAfterMinutes: 20,
        minWorkers: 1,
      },
      tags,
    });

    expect(fleetSpecSchema.parse(spec)).toEqual(spec);
  });

  it('completes a root volume with gp3 and encryption, and leaves the AMI’s without one', () => {
    expect(fleetSpecSchema.parse(fleetJson({ rootVolume: { sizeGiB: 200 } })).rootVolume).toEqual({
      sizeGiB: 200,
      type: 'gp3',
      encrypted: true,
    });
    expect(fleetSpecSchema.parse(fleetJson())).not.toHaveProperty('rootVolume');
  });

  it('fills the defaults inside a partial agent and idle section', () => {
    const parsed = fleetSpecSchema.parse(
      fleetJson({ agent: { busyFile: '/run/busy' }, idle: { cpu: { belowPercent: 3 } } }),
    );

    expect(parsed.agent).toEqual({
      enabled: true,
      heartbeatSeconds: 60,
      busyFile: '/run/busy',
      drainTimeoutSeconds: 90,
      plannedDrainTimeoutSeconds: 540,
    });
    expect(parsed.idle).toEqual({
      cpu: { belowPercent: 3, windowMinutes: 15 },
      bootGraceMinutes: 10,
      terminateAfterMinutes: 10,
      minWorkers: 2,
    });
  });

  it.each([
    ['a spot price in whole dollars', { spotMaxPrice: '12' }],
    ['a spot price with several digits before the point', { spotMaxPrice: '10.5' }],
    ['rebalance: ignore', { rebalance: 'ignore' }],
    ['rebalance: notify', { rebalance: 'notify' }],
    ['one metadata hop', { metadataHopLimit: 1 }],
    ['spot with on-demand fallback', { market: 'spot-with-on-demand-fallback' }],
  ])('accepts %s', (_name, override) => {
    expect(problems(fleetJson(override))).toBe('');
  });

  it.each(['/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64', 'ami-0123abcd'])(
    'accepts %s as the AMI',
    (ami) => {
      expect(problems(fleetJson({ ami }))).toBe('');
    },
  );

  it.each([
    [{ ami: 'ubuntu' }, 'ami: must be an AMI id (ami-…) or an SSM parameter name (/…)'],
    [{ instanceTypes: [] }, 'instanceTypes: at least one instance type is required'],
    [{ instanceTypes: ['c7g.large', 'c7g.large'] }, 'instanceTypes: instance types must not repeat'],
    [{ instanceTypes: ['large'] }, 'instanceTypes.0: must be an instance type such as c7g.large'],
    [{ subnets: ['vpc-1234'] }, 'subnets.0: must be a subnet id (subnet-…)'],
    [{ market: 'cheap' }, 'market: '],
    [{ market: 'on-demand', spotMaxPrice: '0.1' }, 'spotMaxPrice: spotMaxPrice applies to spot markets only'],
    [{ spotMaxPrice: 'ten cents' }, 'spotMaxPrice: must be a price in USD per hour'],
    [{ targetCapacity: 1.5 }, 'targetCapacity: '],
    [{ targetCapacity: 10_001 }, 'targetCapacity: '],
    [{ targetCapacity: 5, maxCapacity: 4 }, 'maxCapacity: must be at least targetCapacity'],
    [{ securityGroupIds: ['default'] }, 'securityGroupIds.0: must be a security group id (sg-…)'],
    [{ userData: 'x'.repeat(16 * 1024 + 1) }, 'userData: must be at most 16 KB'],
    [{ metadataHopLimit: 3 }, 'metadataHopLimit: '],
    [{ rootVolume: { sizeGiB: 0 } }, 'rootVolume.sizeGiB: '],
    [{ rootVolume: { sizeGiB: 100, type: 'st1' } }, 'rootVolume.type: '],
    [{ rootVolume: { sizeGiB: 100, type: 'io2' } }, 'rootVolume.iops: io1 and io2 volumes need iops'],
    [{ rootVolume: { sizeGiB: 100, type: 'gp2', iops: 3000 } }, 'rootVolume.iops: gp2 volumes take no iops'],
    [{ rootVolume: { sizeGiB: 100, kmsKeyId: 'alias/mine' } }, 'rootVolume: '],
    [{ rebalance: 'drain' }, 'rebalance: '],
    [{ rebalanceRetireAfterMinutes: 121 }, 'rebalanceRetireAfterMinutes: '],
    [
      { agent: { busyFile: '/run/busy', busyCommand: 'true' } },
      'agent: give busyFile or busyCommand, not both',
    ],
    [{ agent: { drainTimeoutSeconds: 120 } }, 'agent.drainTimeoutSeconds: '],
    [{ idle: { cpu: { belowPercent: 101 } } }, 'idle.cpu.belowPercent: '],
    [{ idle: { heartbeatTimeoutMinutes: 0 } }, 'idle.heartbeatTimeoutMinutes: '],
    [{ idle: { idleAfter: 5 } }, 'idle: '],
    [{ tags: { 'aws:owner': 'me' } }, 'tags: tag keys must not start with "aws:" or "worker-fleet:"'],
    [{ tags: { 'worker-fleet:fleet': 'other' } }, 'tags: tag keys must not start with'],
    [
      { tags: { 'cost center': 'x' } },
      'tags.cost center: tag keys may use only letters, digits and + - = . , _ : @',
    ],
    [{ tags: { 'team/owner': 'x' } }, 'tags.team/owner: tag keys may use only'],
    [{ tags: { _index: 'x' } }, 'tags._index: tag keys must not be'],
    [{ drainGraceMinutes: -1 }, 'drainGraceMinutes: '],
    [{ disruption: { budget: 0 } }, 'disruption.budget: '],
    [{ disruption: { budget: '150%' } }, 'disruption.budget: '],
    [{ bidPrice: '0.1' }, 'bidPrice'],
    [{ ami: 'my-ami-0123abcd' }, 'ami: must be an AMI id'],
    [{ ami: 'ami-0123abcd-old' }, 'ami: must be an AMI id'],
    [{ ami: 'aws/service/ami' }, 'ami: must be an AMI id'],
    [{ ami: '/aws/service/ami with space' }, 'ami: must be an AMI id'],
    [{ instanceTypes: ['C7g.large'] }, 'instanceTypes.0: must be an instance type'],
    [{ instanceTypes: ['c7g.large!'] }, 'instanceTypes.0: must be an instance type'],
    [{ subnets: ['my-subnet-0123456789abcdef0'] }, 'subnets.0: must be a subnet id'],
    [{ subnets: ['subnet-0123abcd-b'] }, 'subnets.0: must be a subnet id'],
    [
      { subnets: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef0'] },
      'subnets: subnets must not repeat',
    ],
    [{ securityGroupIds: ['my-sg-0123456789abcdef0'] }, 'securityGroupIds.0: must be a security group id'],
    [{ securityGroupIds: ['sg-0123abcd-b'] }, 'securityGroupIds.0: must be a security group id'],
    [{ spotMaxPrice: 'USD 0.05' }, 'spotMaxPrice: must be a price'],
    [{ spotMaxPrice: '0.05 USD' }, 'spotMaxPrice: must be a price'],
    [{ tags: { team: 'data', 'aws:owner': 'me' } }, 'tags: tag keys must not start with'],
    [
      { tags: Object.fromEntries(Array.from({ length: 41 }, (_, index) => [`tag-${index}`, 'x'])) },
      'tags: at most 40 tags',
    ],
  ])('rejects %j with "%s"', (override, message) => {
    expect(problems(fleetJson(override))).toContain(message);
  });
});

describe('describeIssues', () => {
  it('lists every problem, one after the other', () => {
    expect(problems(fleetJson({ ami: 'ubuntu', targetCapacity: -1 }))).toMatch(
      /^ami: must be an AMI id \(ami-…\) or an SSM parameter name \(\/…\); targetCapacity: \S/,
    );
  });
});

describe('fleetsSchema', () => {
  it.each(['Big Fleet', 'batch_1', `a${'b'.repeat(63)}`])(
    'rejects the fleet name %j, which cannot be a tag or token, naming it',
    (name) => {
      const parsed = fleetsSchema.safeParse({ [name]: fleetJson() });

      expect(parsed.success || describeIssues(parsed.error)).toBe(
        `${name}: fleet names are lower-case letters, digits and dashes`,
      );
    },
  );

  it('rejects a deployment without a fleet, naming the root', () => {
    const parsed = fleetsSchema.safeParse({});

    expect(parsed.success || describeIssues(parsed.error)).toBe('(root): at least one fleet is required');
  });

  it('accepts the example fleets.yml shipped with the project', () => {
    const example = YAML.parse(readFileSync(join(__dirname, '../../../fleets.yml'), 'utf8'));

    expect(fleetsSchema.safeParse(example).success).toBe(true);
  });
});

describe('describeUnknownInstanceTypes', () => {
  const known = new Set(['c7g.large', 'm7g.large']);

  it('names each instance type not in the known list, by its path, and no known one', () => {
    const fleets = {
      batch: { instanceTypes: ['c7g.large', 'm7g.huge'] },
      gpu: { instanceTypes: ['p9.mega', 'm7g.large'] },
    };

    expect(describeUnknownInstanceTypes(fleets, known)).toEqual([
      expect.stringMatching(/^batch\.instanceTypes\.1: m7g\.huge is not an instance type this AWS SDK knows/),
      expect.stringMatching(/^gpu\.instanceTypes\.0: p9\.mega is not an instance type this AWS SDK knows/),
    ]);
  });

  it('has no warning when every type is known', () => {
    expect(describeUnknownInstanceTypes({ batch: { instanceTypes: ['m7g.large'] } }, known)).toEqual([]);
  });
});

describe('disruption windows', () => {
  it('takes windows of a five-field cron expression and a duration, and refuses any other shape by its path', () => {
    const windows = (value: unknown) =>
      fleetsSchema.safeParse({ batch: { ...fleetJson(), disruption: { windows: value } } });

    expect(windows([{ cron: '0 2 * * 1-5', durationMinutes: 60 }]).success).toBe(true);
    const refused = windows([{ cron: '0 2 * *', durationMinutes: 60 }]);
    expect(refused.success).toBe(false);
    expect(JSON.stringify(refused.error?.issues)).toContain('five fields');
    expect(windows([{ cron: '0 2 * * *', durationMinutes: 0 }]).success).toBe(false);
    expect(windows([]).success).toBe(false);
  });
});
