import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { fleetSpecSchema, fleetsSchema } from '../../../src/model/fleet-spec';
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
      rebalance: 'notify',
      rebalanceRetireAfterMinutes: 2,
      agent: { enabled: true, heartbeatSeconds: 60, drainTimeoutSeconds: 90 },
      idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 10, terminateAfterMinutes: 10, minWorkers: 2 },
      tags: {},
    });
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
    [{ rebalance: 'drain' }, 'rebalance: '],
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
    [{ bidPrice: '0.1' }, 'bidPrice'],
  ])('rejects %j with "%s"', (override, message) => {
    expect(problems(fleetJson(override))).toContain(message);
  });
});

describe('fleetsSchema', () => {
  it('rejects fleet names that cannot be tags or tokens', () => {
    const parsed = fleetsSchema.safeParse({ 'Big Fleet': fleetJson() });

    expect(parsed.success).toBe(false);
  });

  it('accepts the example fleets.yml shipped with the project', () => {
    const example = YAML.parse(readFileSync(join(__dirname, '../../../fleets.yml'), 'utf8'));

    expect(fleetsSchema.safeParse(example).success).toBe(true);
  });
});
