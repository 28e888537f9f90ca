import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import YAML from 'yaml';
import { headFleetConfig, readFleetConfig } from '../../src/aws/fleet-config-store';
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
      Environment: { Variables: world.env({}) },
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
      batch: fleet({ targetCapacity: 3, instanceTypes: ['t4g.small', 't4g.medium'] }),
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
      '~ batch: instanceTypes ["t4g.small"] → ["t4g.small","t4g.medium"]',
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
    expect(emulator().requests.filter((request) => request.method !== 'GET')).toEqual([]);
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

  it.each([
    [['config'], 'config needs validate <file>, push <file> or show'],
    [['config', 'push'], 'config push needs one file'],
    [['config', 'show', 'fleets.yml'], 'config show takes no file'],
    [['config', 'show', '--dry-run'], '--dry-run is for config push; config show writes nothing'],
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
