import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import YAML from 'yaml';
import { headFleetConfig, readFleetConfig } from '../../src/aws/fleet-config-store';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { fleetOf, largeFleetDocument } from './fleet-documents';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { cli } from './run-cli';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();
let world: FleetWorld;

const fleet = (overrides: Record<string, unknown> = {}) => fleetOf(world, overrides);

/** A fleets file as an operator writes it. */
function fleetsFile(document: unknown, name = 'fleets.yml'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'worker-fleet-config-')), name);
  writeFileSync(file, name.endsWith('.json') ? JSON.stringify(document) : YAML.stringify(document));
  return file;
}

beforeEach(async () => {
  world = await createFleetWorld(emulator());
  process.env.AWS_ENDPOINT_URL = emulator().endpoint;
  // The deployed stage as the CLI finds it: its launcher, with the environment the stack gives it.
  const settings = clientConfig(emulator());
  const role = await new IAMClient(settings).send(
    new CreateRoleCommand({ RoleName: 'launcher', AssumeRolePolicyDocument: '{}' }),
  );
  await new LambdaClient(settings).send(
    new CreateFunctionCommand({
      FunctionName: 'worker-fleet-test-launchWorkers',
      Runtime: 'nodejs24.x',
      Role: role.Role?.Arn,
      Handler: 'launch-workers.handler',
      Code: { ZipFile: Buffer.from('PK\x05\x06'.padEnd(22, '\0'), 'binary') },
      Environment: { Variables: world.env() },
    }),
  );
  emulator().requests.length = 0;
});

afterAll(() => {
  delete process.env.AWS_ENDPOINT_URL;
});

describe('worker-fleet config', () => {
  it('validate checks a file offline and names what is wrong', async () => {
    const valid = await cli(
      'config',
      'validate',
      fleetsFile({ batch: fleet(), nightly: fleet() }, 'fleets.json'),
    );
    const invalid = await cli('config', 'validate', fleetsFile({ batch: fleet({ market: 'cheap' }) }));

    expect(valid).toMatchObject({
      code: 0,
      out: expect.stringMatching(/: valid, 2 fleets \(batch, nightly\), \d+ bytes as JSON$/),
    });
    expect(invalid.code).toBe(1);
    expect(invalid.err).toMatch(/fleets\.yml: fleet configuration is invalid: batch\.market: /);
    expect(emulator().requests).toHaveLength(0);
  });

  it('push stores a 20 KB document with 16 KB of user data, and show gives it back with its version', async () => {
    const document = largeFleetDocument(world);
    expect(Buffer.byteLength(JSON.stringify(document))).toBeGreaterThan(20_000);

    const pushed = await cli('config', 'push', fleetsFile(document));
    const shown = await cli('config', 'show');
    const shownJson = await cli('config', 'show', '--json');

    expect(pushed).toMatchObject({ code: 0, err: '' });
    expect(pushed.out).toContain('to s3://worker-fleet-test-state/config/fleets.json: batch, nightly');
    const stored = await readFleetConfig(world.s3, world.stateBucket);
    expect(stored?.document).toEqual(document);
    expect(shown.code).toBe(0);
    expect(shown.out.split('\n')[0]).toMatch(
      /^# s3:\/\/worker-fleet-test-state\/config\/fleets\.json, version .+ by config-push$/,
    );
    expect(YAML.parse(shown.out)).toEqual(document);
    expect(JSON.parse(shownJson.out)).toMatchObject({ document, version: { etag: stored?.version.etag } });
  });

  it('push --dry-run prints the change against the stored fleets, field by field, and writes nothing', async () => {
    await world.storeFleets({ batch: fleet(), old: fleet() });
    const before = await headFleetConfig(world.s3, world.stateBucket);
    emulator().requests.length = 0;
    const file = fleetsFile({
      batch: fleet({ targetCapacity: 3, instanceTypes: ['t3.small', 't3.medium'] }),
      nightly: fleet(),
    });

    const dry = await cli('config', 'push', file, '--dry-run');
    const dryJson = await cli('config', 'push', file, '--dry-run', '--json');
    const same = await cli('config', 'push', fleetsFile({ batch: fleet(), old: fleet() }), '--dry-run');

    expect(dry.code).toBe(0);
    expect(dry.out.split('\n')).toEqual([
      expect.stringMatching(
        /^dry run: .*fleets\.yml against s3:\/\/worker-fleet-test-state\/config\/fleets\.json, version .*; nothing written$/,
      ),
      '+ nightly (added)',
      '- old (removed)',
      // As the functions read them: the floor and the maximum default to the target, and move with it.
      '~ batch: idle.minWorkers 1 → 3',
      '~ batch: instanceTypes ["t3.small"] → ["t3.small","t3.medium"]',
      '~ batch: maxCapacity 1 → 3',
      '~ batch: targetCapacity 1 → 3',
    ]);
    expect(JSON.parse(dryJson.out)).toMatchObject({
      dryRun: true,
      version: { etag: before?.etag },
      change: {
        added: ['nightly'],
        removed: ['old'],
        changed: {
          batch: [
            { field: 'idle.minWorkers' },
            { field: 'instanceTypes' },
            { field: 'maxCapacity' },
            { field: 'targetCapacity', from: 1, to: 3 },
          ],
        },
      },
    });
    expect(same.out.split('\n').slice(1)).toEqual(['no change']);
    // S3 reads and EC2's Describe calls (the account check), nothing else.
    expect(
      emulator().requests.filter(
        (request) => request.method !== 'GET' && !request.action.startsWith('Describe'),
      ),
    ).toEqual([]);
    expect(await headFleetConfig(world.s3, world.stateBucket)).toEqual(before);
  });

  it('push --dry-run on a stage with nothing stored shows every fleet added', async () => {
    const run = await cli('config', 'push', fleetsFile({ batch: fleet() }), '--dry-run');

    expect(run.code).toBe(0);
    expect(run.out).toMatch(/\(nothing stored yet\); nothing written\n\+ batch \(added\)$/);
    expect(await headFleetConfig(world.s3, world.stateBucket)).toBeUndefined();
  });

  it('refuses to push a bad document before any AWS call, and the stored one stays as it was', async () => {
    await world.storeFleets({ batch: fleet() });
    const before = await headFleetConfig(world.s3, world.stateBucket);
    emulator().requests.length = 0;

    const run = await cli(
      'config',
      'push',
      fleetsFile({ batch: fleet(), broken: fleet({ instanceTypes: [] }) }),
    );

    expect(run.code).toBe(1);
    expect(run.err).toContain('broken.instanceTypes: at least one instance type is required');
    expect(emulator().requests).toHaveLength(0);
    expect(await headFleetConfig(world.s3, world.stateBucket)).toEqual(before);
  });

  it('validate and push refuse a disruption window whose cron expression the reaper could not read', async () => {
    const file = fleetsFile({
      batch: fleet({ disruption: { windows: [{ cron: '61 * * * *', durationMinutes: 60 }] } }),
    });
    emulator().requests.length = 0;

    const validated = await cli('config', 'validate', file);
    const pushed = await cli('config', 'push', file);

    for (const run of [validated, pushed]) {
      expect(run.code).toBe(1);
      expect(run.err).toMatch(
        /fleets\.yml: fleet configuration is invalid: batch\.disruption\.windows\.0\.cron: not a cron expression the reaper can read: .*61/,
      );
    }
    expect(emulator().requests).toHaveLength(0);
  });

  /** A VPC of its own with one subnet and one security group: what a fleet must not mix with the default VPC's. */
  async function otherVpc() {
    const ec2 = new EC2Client(clientConfig(emulator()));
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' }));
    const vpcId = vpc.Vpc?.VpcId ?? '';
    const subnet = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.9.1.0/24', AvailabilityZone: 'us-east-1b' }),
    );
    const group = await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'other', Description: 'other' }),
    );
    return { vpcId, subnetId: subnet.Subnet?.SubnetId ?? '', groupId: group.GroupId ?? '' };
  }

  /** The world's default subnet in a zone. */
  const subnetIn = (zone: string) =>
    world.subnets.find((subnet) => subnet.availabilityZone === zone)?.subnetId;

  it('validate --account finds in the account everything a sound fleet names, with read-only calls', async () => {
    const file = fleetsFile({
      batch: fleet({
        instanceTypes: ['t3.small', 'm5.large'],
        subnets: [subnetIn('us-east-1a'), subnetIn('us-east-1b')],
        keyName: world.keyName,
        securityGroupIds: [world.securityGroupId],
      }),
    });

    const run = await cli('config', 'validate', file, '--account');
    const json = await cli('config', 'validate', file, '--account', '--json');

    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out.split('\n')[1]).toBe('the account (us-east-1) has everything the fleets name');
    expect(JSON.parse(json.out)).toMatchObject({
      valid: true,
      account: { region: 'us-east-1', problems: [] },
    });
    expect(new Set(emulator().requests.map((request) => request.action))).toEqual(
      new Set([
        'DescribeImages',
        'DescribeInstanceTypes',
        'DescribeInstanceTypeOfferings',
        'DescribeSubnets',
        'DescribeKeyPairs',
        'DescribeSecurityGroups',
      ]),
    );
  });

  it('validate --account names each problem the account would answer at RunInstances', async () => {
    const other = await otherVpc();
    const file = fleetsFile({
      arm: fleet({ instanceTypes: ['c7g.large'] }),
      zone: fleet({ instanceTypes: ['m5.large'], subnets: [subnetIn('us-east-1a'), subnetIn('us-east-1e')] }),
      unknown: fleet({ instanceTypes: ['m7g.huge'] }),
      vpcs: fleet({ subnets: [subnetIn('us-east-1a'), other.subnetId] }),
      missing: fleet({
        ami: 'ami-0123456789abcdef0',
        subnets: ['subnet-0123456789abcdef0'],
        keyName: 'nobody',
        securityGroupIds: ['sg-0123456789abcdef0', other.groupId],
      }),
      parameter: fleet({ ami: '/worker-fleet/no-such-image' }),
    });

    const run = await cli('config', 'validate', file, '--account');

    expect(run.code).toBe(1);
    expect(run.err.split('\n')).toEqual([
      expect.stringMatching(/fleets\.yml: valid, but 9 problems in the account \(us-east-1\):$/),
      `  arm: instanceTypes: c7g.large runs arm64, but image ${world.imageId} is x86_64`,
      `  zone: instanceTypes: m5.large is not offered in us-east-1e (subnet ${subnetIn('us-east-1e')})`,
      '  unknown: instanceTypes: m7g.huge is not an instance type EC2 offers in us-east-1',
      expect.stringMatching(
        new RegExp(
          `^  vpcs: subnets: the subnets are in 2 VPCs \\(${subnetIn('us-east-1a')} in vpc-[0-9a-f]+; ${other.subnetId} in ${other.vpcId}\\): a fleet's subnets share one VPC$`,
        ),
      ),
      '  missing: ami: image ami-0123456789abcdef0 is not in us-east-1, or not shared with this account',
      '  missing: subnets: subnet subnet-0123456789abcdef0 is not in us-east-1',
      '  missing: keyName: key pair nobody is not in us-east-1',
      '  missing: securityGroupIds: security group sg-0123456789abcdef0 is not in us-east-1',
      '  parameter: ami: SSM parameter /worker-fleet/no-such-image is not in us-east-1, or holds no AMI id',
    ]);
  });

  it('push checks the account first: a fleet it would refuse is named and nothing is written, unless skipped', async () => {
    await world.storeFleets({ batch: fleet() });
    const before = await headFleetConfig(world.s3, world.stateBucket);
    const other = await otherVpc();
    const file = fleetsFile({ batch: fleet({ securityGroupIds: [other.groupId] }) });

    const refused = await cli('config', 'push', file);
    const dry = await cli('config', 'push', file, '--dry-run');
    const afterRefusal = await headFleetConfig(world.s3, world.stateBucket);
    const skipped = await cli('config', 'push', file, '--skip-account-check');

    const problem = `batch: securityGroupIds: security group ${other.groupId} is in ${other.vpcId}, the subnets in vpc-`;
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      /fleets\.yml: not pushed \(--skip-account-check pushes anyway\): 1 problem in the account/,
    );
    expect(refused.err).toContain(`\n  ${problem}`);
    expect(afterRefusal).toEqual(before);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`\n! ${problem}`);
    expect(skipped.code).toBe(0);
    expect((await readFleetConfig(world.s3, world.stateBucket))?.fleets.batch?.securityGroupIds).toEqual([
      other.groupId,
    ]);
  });

  it('push that removes a fleet with live workers says how many, and needs --force', async () => {
    const fleets = { batch: fleet(), old: fleet({ maxCapacity: 2 }) };
    await world.storeFleets(fleets);
    const [launched] = await launchWorkers(world.deps(fleets), {
      kind: 'direct',
      id: 'setup-old',
      fleet: 'old',
      target: 2,
    });
    const workers = (launched?.launched ?? []).map((worker) => worker.instanceId);
    expect(workers).toHaveLength(2);
    const before = await headFleetConfig(world.s3, world.stateBucket);
    const file = fleetsFile({ batch: fleet() });
    const left = `old: 2 workers (${workers.join(' ')})`;

    const dry = await cli('config', 'push', file, '--dry-run');
    const refused = await cli('config', 'push', file);
    const afterRefusal = await headFleetConfig(world.s3, world.stateBucket);
    const forced = await cli('config', 'push', file, '--force');

    expect(dry.out).toContain(
      `- old (removed)\n! live workers left without a fleet: ${left} (push needs --force)`,
    );
    expect(refused).toMatchObject({ code: 1, out: '' });
    expect(refused.err).toBe(
      `worker-fleet: ${file}: not pushed: it leaves live workers without a fleet, which nothing would launch for, replace or reap as a fleet's: ${left}. Drain them first (worker-fleet drain <id>), or push anyway with --force`,
    );
    expect(afterRefusal).toEqual(before);
    expect(forced.code).toBe(0);
    expect(forced.out).toContain(`left without a fleet (--force): ${left}`);
    expect(Object.keys((await readFleetConfig(world.s3, world.stateBucket))?.fleets ?? {})).toEqual([
      'batch',
    ]);
  });

  it.each([
    [['config'], 'config needs validate <file>, push <file> or show'],
    [['config', 'push'], 'config push needs one file'],
    [['config', 'show', 'fleets.yml'], 'config show takes no file'],
    [['config', 'show', '--dry-run'], '--dry-run is for config push; config show writes nothing'],
    [
      ['config', 'push', 'fleets.yml', '--account'],
      '--account is for config validate; config push checks the account unless --skip-account-check',
    ],
    [['config', 'validate', 'fleets.yml', '--skip-account-check'], '--skip-account-check is for config push'],
    [['config', 'push', 'fleets.yml', '--dry-run', '--force'], '--force is for config push (not --dry-run)'],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const run = await cli(...args);

    expect(run).toMatchObject({ code: 2, err: `worker-fleet: ${message} (see --help)` });
  });

  it('has a help of its own', async () => {
    const run = await cli('config', '--help');

    expect(run).toMatchObject({
      code: 0,
      out: expect.stringContaining('Usage: worker-fleet config validate <file>'),
    });
  });

  it('show says when the stage has no fleet configuration yet', async () => {
    const run = await cli('config', 'show');

    expect(run).toMatchObject({
      code: 1,
      err: 'worker-fleet: s3://worker-fleet-test-state/config/fleets.json holds no fleet configuration yet',
    });
  });
});
