import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTagsCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { recordPoolEvents } from '../../src/fleet/record-pool-events';
import { retirementOf } from '../../src/fleet/retirement-plan';
import { recordHealthEvent } from '../../src/fleet/scheduled-changes';
import { heartbeatKey } from '../../src/model/heartbeat';
import { TAG } from '../../src/model/tags';
import { cliFleets, deployFunctions, deployLauncher } from './cli-deployment';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { cli } from './run-cli';
import { healthEventNaming } from './scheduled-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
let world: FleetWorld;

const fleets = () => cliFleets(world);

/**
 * The operator's own credentials (a profile), apart from the functions' (the environment's): the emulator's captured
 * requests say whose each call was.
 */
const OPERATOR_KEY = 'OPERATORKEY';
const credentialsFile = join(mkdtempSync(join(tmpdir(), 'worker-fleet-cli-')), 'credentials');
writeFileSync(
  credentialsFile,
  `[operator]\naws_access_key_id = ${OPERATOR_KEY}\naws_secret_access_key = operator-secret\n`,
);
/** The CLI run by the operator, with the operator's profile. */
const operator = (...args: string[]) => cli('--profile', 'operator', ...args);
/** What the operator's credentials asked of AWS since the last reset, by action. */
const operatorCalls = () =>
  emulator()
    .requests.filter((request) => request.accessKeyId === OPERATOR_KEY)
    .map((request) => request.action || `${request.method} ${request.path}`);

async function launch(count: number): Promise<string[]> {
  const [result] = await launchWorkers(world.deps(fleets()), {
    kind: 'direct',
    id: `setup-${count}`,
    fleet: 'batch',
    target: count,
  });
  return (result?.launched ?? []).map((worker) => worker.instanceId);
}

const heartbeat = (instanceId: string, status: string) =>
  world.s3.send(
    new PutObjectCommand({
      Bucket: world.fleetBucket,
      Key: heartbeatKey(world.workerRoleId, instanceId),
      Body: status,
    }),
  );

beforeEach(async () => {
  world = await createFleetWorld(emulator());
  process.env.AWS_ENDPOINT_URL = emulator().endpoint;
  process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
  await deployLauncher(emulator(), world);
  deployFunctions(emulator(), world);
});

afterAll(() => {
  delete process.env.AWS_ENDPOINT_URL;
  delete process.env.AWS_SHARED_CREDENTIALS_FILE;
});

describe('npx worker-fleet', () => {
  it('status shows every worker with its heartbeat, verdict, interruption and replacement, and the risky pools', async () => {
    const [busy, interrupted] = await launch(2);
    await heartbeat(busy ?? '', 'busy');
    await heartbeat(interrupted ?? '', 'idle');
    await world.ec2.send(
      new CreateTagsCommand({
        Resources: [interrupted ?? ''],
        Tags: [
          { Key: TAG.interruptedAt, Value: new Date().toISOString() },
          { Key: TAG.interruption, Value: 'terminate' },
        ],
      }),
    );
    await world.ec2.send(
      new CreateTagsCommand({
        Resources: [busy ?? ''],
        Tags: [{ Key: TAG.replaces, Value: interrupted ?? '' }],
      }),
    );
    const subnet = world.subnets[0]?.subnetId ?? '';
    await recordPoolEvents(
      world.state,
      [
        {
          pool: { instanceType: 'c7g.large', subnetId: subnet },
          kind: 'interruption',
          id: interrupted ?? '',
        },
      ],
      new Date(),
    );

    const { code, out } = await cli('status', '--fleet', 'batch');

    expect(code).toBe(0);
    expect(out).toContain(
      [
        'FLEET  TARGET  DESIRED  FLOOR  MAX  RUNNING  IN-FLIGHT',
        'batch  2       2        0      6    2        0',
        '',
        'fleet batch: 2 running',
      ].join('\n'),
    );
    const rows = out.split('\n');
    expect(rows.find((row) => row.startsWith(busy ?? '-'))).toMatch(
      new RegExp(`c7g\\.large .*spot .*running .*0m ago \\(busy\\) +busy .*replaces ${interrupted}`),
    );
    expect(rows.find((row) => row.startsWith(interrupted ?? '-'))).toMatch(
      new RegExp(`0m ago \\(idle\\) +idle .*interrupted \\(terminate\\), replaced by ${busy}`),
    );
    expect(out).toContain(`c7g.large@${subnet}: score 1, 1 interruption in the last 1h`);
  });

  it('status marks the workers on another image than the one their fleet now launches as drifted', async () => {
    const [worker = ''] = await launch(1);
    // The fleet's image as a reconciliation records it when its AMI parameter changed.
    const taken = await world.state.takeLease('batch', 'reconcile', {
      holder: 'test',
      now: new Date(),
      ttlMs: 60_000,
      handOff: false,
    });
    if (taken.kind !== 'held') throw new Error('the lease is held');
    const fleetImage = 'ami-0fedcba9876543210';
    await world.state.commit(taken.lease, [
      { kind: 'image', image: { ami: world.imageId, imageId: fleetImage, at: new Date().toISOString() } },
    ]);

    const { code, out } = await cli('status', '--fleet', 'batch');
    const json = await cli('status', '--fleet', 'batch', '--json');

    expect(code).toBe(0);
    expect(out.split('\n').find((row) => row.startsWith(worker))).toMatch(
      new RegExp(`${world.imageId} \\(drifted\\) +-$`),
    );
    expect(JSON.parse(json.out)[0].workers).toEqual([
      expect.objectContaining({ instanceId: worker, imageId: world.imageId, drifted: true }),
    ]);
  });

  it('status shows each worker’s planned retirement, where it stands, and the change AWS scheduled for it', async () => {
    const [draining = '', scheduled = ''] = await launch(2);
    const at = new Date();
    const deadline = new Date(at.getTime() + 10 * 60_000);
    const pool = { instanceType: 'c7g.large', subnetId: world.subnets[0]?.subnetId ?? '' };
    await world.state.addRetirement('batch', {
      ...retirementOf({ instanceId: draining, ...pool }, 'max-lifetime', at),
      drainRequestedAt: at.toISOString(),
      deadline: deadline.toISOString(),
    });
    const event = healthEventNaming([scheduled], {
      startTime: new Date(Date.now() + 3 * 86_400_000).toUTCString(),
    });
    await recordHealthEvent(world.deps(fleets()), event);

    const { code, out } = await cli('status', '--fleet', 'batch');
    const json = await cli('status', '--fleet', 'batch', '--json');

    expect(code).toBe(0);
    const rows = out.split('\n');
    expect(rows.find((row) => row.startsWith(draining))).toMatch(
      new RegExp(`max-lifetime: draining until ${deadline.toISOString()}$`),
    );
    expect(rows.find((row) => row.startsWith(scheduled))).toMatch(
      new RegExp(`AWS ${event.code} from ${event.startsAt.toISOString()}$`),
    );
    expect(JSON.parse(json.out)[0].workers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          instanceId: draining,
          retirement: {
            reason: 'max-lifetime',
            stage: 'draining',
            requestedAt: at.toISOString(),
            deadline: deadline.toISOString(),
          },
        }),
        expect.objectContaining({
          instanceId: scheduled,
          scheduledChange: {
            code: event.code,
            startsAt: event.startsAt.toISOString(),
            eventId: event.eventArn,
          },
        }),
      ]),
    );
  });

  it('status counts launches EC2 does not list yet as in flight, beside the desired size', async () => {
    emulator().listingLagMs = 60_000;
    const launched = await launch(3);

    const { code, out } = await cli('status', '--fleet', 'batch');
    const json = await cli('status', '--fleet', 'batch', '--json');

    expect(code).toBe(0);
    expect(out).toContain('batch  2       3        0      6    0        3');
    expect(out).toContain(`fleet batch: 0 running, 3 in flight (${launched.join(' ')})`);
    expect(JSON.parse(json.out)).toEqual([
      expect.objectContaining({ desired: 3, running: 0, inFlight: launched, workers: [] }),
    ]);
  });

  it('status --json gives the same for scripts', async () => {
    const [worker] = await launch(1);

    const { code, out } = await cli('status', '--json');

    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual([
      expect.objectContaining({
        fleet: 'batch',
        targetCapacity: 2,
        desired: 1,
        pendingRequests: 0,
        floor: 0,
        maxCapacity: 6,
        running: 1,
        inFlight: [],
        workers: [expect.objectContaining({ instanceId: worker, market: 'spot', verdict: 'unknown' })],
        riskyPools: [],
      }),
    ]);
  });

  it('launch invokes the launcher: to the target, or a count more', async () => {
    const first = await operator('launch', '--fleet', 'batch');
    const second = await operator('launch', '--fleet', 'batch', '--count', '3', '--json');

    expect(first).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^fleet batch: launched, launched 2: i-/),
    });
    expect(JSON.parse(second.out)).toMatchObject({ status: 'launched', launched: [{}, {}, {}] });
    const launched = await world.instances({ tag: TAG.managedBy, value: 'worker-fleet-test' });
    expect(launched).toHaveLength(5);
    expect(launched.every((instance) => instance.Tags?.some((tag) => tag.Value?.startsWith('cli-')))).toBe(
      true,
    );
    expect(operatorCalls()).toEqual(['Invoke', 'Invoke']);
    expect(
      emulator()
        .sent('Invoke')
        .map((request) => [request.path, JSON.parse(request.body)]),
    ).toEqual([
      [
        '/2015-03-31/functions/worker-fleet-test-launchWorkers/invocations',
        { fleet: 'batch', requestId: expect.stringMatching(/^cli-/) },
      ],
      [
        '/2015-03-31/functions/worker-fleet-test-launchWorkers/invocations',
        { fleet: 'batch', count: 3, requestId: expect.stringMatching(/^cli-/) },
      ],
    ]);
  });

  it("launch, reap and drain change nothing with the operator's credentials: each is one Invoke, the rest is the functions'", async () => {
    const changes =
      /^(RunInstances|TerminateInstances|CreateTags|DeleteTags|PutItem|UpdateItem|DeleteItem|TransactWriteItems|BatchWriteItem|Publish|PutEvents)$|^PUT /;

    await operator('launch', '--fleet', 'batch');
    const [worker] = (await world.instances()).map((instance) => instance.InstanceId ?? '');
    await heartbeat(worker ?? '', 'idle');
    await operator('reap', '--fleet', 'batch');
    const drained = await operator('drain', worker ?? '', '--now');

    expect(drained).toMatchObject({
      code: 0,
      out: `${worker} (fleet batch): terminated; waits for nothing: terminated at once, without its drain hook`,
    });
    expect(operatorCalls()).toEqual(['Invoke', 'Invoke', 'Invoke']);
    const functions = emulator()
      .requests.filter((request) => request.accessKeyId !== OPERATOR_KEY)
      .map((request) => request.action || `${request.method} ${request.path}`);
    expect(functions).toEqual(
      expect.arrayContaining(['RunInstances', 'TransactWriteItems', 'CreateTags', 'TerminateInstances']),
    );
    expect(operatorCalls().filter((action) => changes.test(action))).toEqual([]);
  });

  it("prints a function's error clearly, exit 1: a refusal as its message, a failure with the function and its error", async () => {
    emulator().lambdaHandlers?.set('worker-fleet-test-reapIdleWorkers', async () => {
      throw new TypeError('cannot read the fleets');
    });

    const unknown = await operator('launch', '--fleet', 'nightly');
    const failed = await operator('reap', '--fleet', 'batch');
    const failedJson = await operator('reap', '--fleet', 'batch', '--json');
    const undeployed = await operator('launch', '--fleet', 'batch', '--stage', 'prod');

    expect(unknown).toEqual({
      code: 1,
      out: '',
      err: 'worker-fleet: unknown fleet "nightly"; this deployment manages: batch',
    });
    expect(failed).toEqual({
      code: 1,
      out: '',
      err: 'worker-fleet: worker-fleet-test-reapIdleWorkers failed: TypeError: cannot read the fleets',
    });
    expect(JSON.parse(failedJson.err)).toEqual({
      error: 'TypeError',
      message: 'worker-fleet-test-reapIdleWorkers failed: TypeError: cannot read the fleets',
      function: 'worker-fleet-test-reapIdleWorkers',
    });
    expect(undeployed).toMatchObject({
      code: 1,
      err: expect.stringContaining('no worker-fleet deployment for stage "prod" in us-east-1'),
    });
  });

  it("scale invokes the launcher with the fleet's new size: more launches what is missing, less launches nothing", async () => {
    const up = await operator('scale', 'batch', '4');
    const down = await operator('scale', 'batch', '0', '--json');

    expect(up).toMatchObject({ code: 0, err: '' });
    expect(up.out).toMatch(/^fleet batch: size 4, \d+ running; launched\nlaunched 4: i-/);
    expect(JSON.parse(down.out)).toMatchObject({ fleet: 'batch', desired: 0, launched: [] });
    expect(await world.instances({ tag: TAG.managedBy, value: 'worker-fleet-test' })).toHaveLength(4);
    expect(operatorCalls()).toEqual(['Invoke', 'Invoke']);
    expect(
      emulator()
        .sent('Invoke')
        .map((request) => JSON.parse(request.body)),
    ).toEqual([
      { fleet: 'batch', target: 4, requestId: expect.stringMatching(/^cli-/) },
      { fleet: 'batch', target: 0, requestId: expect.stringMatching(/^cli-/) },
    ]);
  });

  it.each([
    [['scale', 'batch'], 'scale needs a fleet and a size: scale <fleet> <n>'],
    [['scale', 'Batch', '2'], 'scale: fleet names are lower-case letters, digits and dashes, not "Batch"'],
    [['scale', 'batch', '1e3'], 'not "1e3"'],
    [['scale', 'batch', '10001'], 'from 0 to 10000 in plain digits, not "10001"'],
  ])('%j is a usage error before anything reaches AWS', async (args, message) => {
    const before = emulator().requests.length;

    const run = await operator(...args);

    expect(run.code).toBe(2);
    expect(run.err).toContain(message);
    expect(emulator().requests.slice(before)).toEqual([]);
  });

  it('status lists the orphans: workers of this deployment whose fleet is no longer configured', async () => {
    const [kept] = await launch(1);
    const [orphaned] = await launchWorkers(world.deps({ ...fleets(), old: fleets().batch }), {
      kind: 'direct',
      id: 'setup-old',
      fleet: 'old',
      target: 2,
    });
    const orphans = (orphaned?.launched ?? []).map((worker) => worker.instanceId);

    const { code, out } = await cli('status');
    const json = await cli('status', '--json');
    const one = await cli('status', '--fleet', 'batch');

    expect(code).toBe(0);
    expect(out).toContain(`fleet batch: 1 running`);
    expect(out).toContain('orphans: 2 workers of fleet no longer configured (old)');
    for (const id of orphans)
      expect(out).toMatch(new RegExp(`^old +${id} +c7g\\.large .*spot +running`, 'm'));
    expect(out).not.toMatch(new RegExp(`^old +${kept}`, 'm'));
    expect(JSON.parse(json.out)).toEqual([
      expect.objectContaining({ fleet: 'batch', running: 1 }),
      expect.objectContaining({ fleet: 'old', orphan: true, running: 2 }),
    ]);
    expect(one.out).not.toContain('orphans');
  });

  it('every call of every command is signed with the --profile credentials, reads and invocations alike', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'worker-fleet-cli-')), 'fleets.yml');
    // The world's image is x86_64: an x86 type, so that the account check finds nothing to refuse.
    writeFileSync(file, JSON.stringify({ batch: { ...fleets().batch, instanceTypes: ['t3.small'] } }));
    const commands = [
      ['status'],
      ['config', 'show'],
      ['config', 'validate', file, '--account'],
      ['config', 'push', file, '--dry-run'],
      ['config', 'push', file],
      ['launch', '--fleet', 'batch'],
      ['scale', 'batch', '3'],
      ['reap', '--fleet', 'batch', '--dry-run'],
    ];

    for (const args of commands) {
      const functions = emulator().lambdaHandlers;
      // Only the CLI's own requests: the deployed functions run with the environment's credentials.
      emulator().lambdaHandlers = new Map(
        [...(functions ?? [])].map(([name, handler]) => [
          name,
          async (event, invocation) => {
            const before = emulator().requests.length;
            try {
              return await handler(event, invocation);
            } finally {
              emulator().requests.splice(before);
            }
          },
        ]),
      );
      emulator().requests.length = 0;
      const run = await operator(...args);
      emulator().lambdaHandlers = functions;

      expect({ args, code: run.code, err: run.err }).toEqual({ args, code: 0, err: '' });
      const keys = new Set(emulator().requests.map((request) => request.accessKeyId));
      expect({ args, keys: [...keys] }).toEqual({ args, keys: [OPERATOR_KEY] });
    }
  });

  it('reap --dry-run says what it would do and changes nothing; reap marks the idle workers', async () => {
    const workers = await launch(2);
    for (const worker of workers) await heartbeat(worker, 'idle');

    const dry = await operator('reap', '--fleet', 'batch', '--dry-run');
    const untouched = await world.instances({ tag: TAG.idleSince, value: '*' });
    const real = await operator('reap', '--fleet', 'batch');

    expect(dry).toMatchObject({
      code: 0,
      out: expect.stringContaining('fleet batch (dry run): 2 workers judged'),
    });
    expect(untouched).toEqual([]);
    expect(real.out).toContain(`marked idle: ${workers.join(' ')}`);
    const marked = await world.instances({ tag: TAG.idleSince, value: '*' });
    expect(marked.map((instance) => instance.InstanceId).sort()).toEqual([...workers].sort());
  });

  it('drain retires a worker gracefully: its replacement asked for first, and says what it waits for; --dry-run changes nothing', async () => {
    const [worker] = await launch(1);

    const dry = await operator('drain', worker ?? '', '--dry-run');
    const keysAfterDry = await world.stateKeys();
    const { code, out } = await operator('drain', worker ?? '');

    expect(dry).toMatchObject({
      code: 0,
      out: `${worker} (fleet batch): would-drain; waits for its replacement to run, then its drain hook (its agent reports drained), at most 10m after the drain request`,
    });
    expect(keysAfterDry.filter((key) => key.includes('retirement#') || key.includes('replacement#'))).toEqual(
      [],
    );
    expect({ code, out }).toEqual({
      code: 0,
      out: `${worker} (fleet batch): draining; waits for its replacement to run, then its drain hook (its agent reports drained), at most 10m after the drain request`,
    });
    expect(await world.stateKeys()).toEqual(
      expect.arrayContaining([`fleet#batch retirement#${worker}`, `fleet#batch replacement#${worker}`]),
    );
    const [instance] = await world.instances();
    expect(instance?.State?.Name).toBe('running');
    expect(
      emulator()
        .sent('Invoke')
        .map((request) => [request.path, JSON.parse(request.body)]),
    ).toEqual([
      [
        '/2015-03-31/functions/worker-fleet-test-reapIdleWorkers/invocations',
        { drain: worker, dryRun: true },
      ],
      ['/2015-03-31/functions/worker-fleet-test-reapIdleWorkers/invocations', { drain: worker }],
    ]);
  });

  it('drain --now terminates a worker at once, marked as retired, and tells the topic', async () => {
    const [worker] = await launch(1);

    const { code, out } = await operator('drain', worker ?? '', '--now');

    expect({ code, out }).toEqual({
      code: 0,
      out: `${worker} (fleet batch): terminated; waits for nothing: terminated at once, without its drain hook`,
    });
    const [instance] = await world.instances();
    expect(instance?.State?.Name).toMatch(/shutting-down|terminated/);
    expect(instance?.Tags).toContainEqual({ Key: TAG.idleReason, Value: 'drained-by-operator' });
    expect((await world.notifications()).map((notification) => notification.kind)).toContain('drained');
  });

  it("refuses to drain an instance that is not this deployment's worker, and changes nothing", async () => {
    const stranger = await world.ec2.send(
      new RunInstancesCommand({ ImageId: world.imageId, MinCount: 1, MaxCount: 1 }),
    );
    const strangerId = stranger.Instances?.[0]?.InstanceId ?? '';

    const refused = await operator('drain', strangerId);
    const unknown = await operator('drain', 'i-0123456789abcdef0');

    expect(refused).toEqual({
      code: 1,
      out: '',
      err: `worker-fleet: ${strangerId} is not a worker of worker-fleet-test; nothing was changed`,
    });
    expect(unknown).toMatchObject({ code: 1, err: 'worker-fleet: no such instance: i-0123456789abcdef0' });
    const [instance] = await world.instances();
    expect(instance?.State?.Name).toBe('running');
    expect(instance?.Tags ?? []).toEqual([]);
  });

  it('refuses to drain a protected worker, through the core, and has no --force: the refusal changes nothing', async () => {
    const [worker] = await launch(1);
    await world.ec2.send(
      new CreateTagsCommand({ Resources: [worker ?? ''], Tags: [{ Key: TAG.protected, Value: 'true' }] }),
    );

    const refused = await operator('drain', worker ?? '');
    const refusedNow = await operator('drain', worker ?? '', '--now');
    const forced = await operator('drain', worker ?? '', '--force');

    for (const answer of [refused, refusedNow]) {
      expect(answer).toEqual({
        code: 1,
        out: '',
        err: `worker-fleet: ${worker} is protected by the ${TAG.protected} tag; remove the tag to drain it; nothing was changed`,
      });
    }
    expect(forced).toMatchObject({ code: 2, err: expect.stringContaining('--force') });
    const [untouched] = await world.instances();
    expect(untouched?.State?.Name).toBe('running');
    expect(untouched?.Tags?.map((tag) => tag.Key)).not.toContain(TAG.idleSince);
    expect(untouched?.Tags?.map((tag) => tag.Key)).not.toContain(TAG.drainRequestedAt);
  });

  it.each([
    [['status', '--fleet', 'nightly'], 1, 'unknown fleet "nightly"; this deployment manages: batch'],
    [['status', '--stage', 'prod'], 1, 'no worker-fleet deployment for stage "prod" in us-east-1'],
    [['launch', '--fleet', 'batch', '--count', '1e3'], 2, 'not "1e3"'],
  ])('%j fails with exit %i and a clear message, and changes nothing', async (args, exit, message) => {
    const before = emulator().requests.length;

    const { code, err } = await cli(...(args as string[]));

    expect(code).toBe(exit);
    expect(err).toContain(message);
    const calls = emulator().requests.slice(before);
    const reads = calls.filter((call) => call.method === 'GET' || call.action.startsWith('Describe'));
    expect(reads).toEqual(calls);
    if (exit === 2) expect(calls).toEqual([]);
  });

  it('runs as a command: help for every command, and a clear error without credentials', () => {
    const bin = join(__dirname, '../../bin/worker-fleet.mjs');
    const run = (args: string[], env: Record<string, string | undefined> = {}) =>
      spawnSync(bin, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

    for (const command of ['status', 'launch', 'scale', 'reap', 'drain']) {
      const help = run([command, '--help']);
      expect({ command, code: help.status }).toEqual({ command, code: 0 });
      expect(help.stdout).toContain(`Usage: worker-fleet ${command}`);
    }
    const noCredentials = run(['status', '--region', 'us-east-1'], {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    });
    expect(noCredentials.status).toBe(1);
    expect(noCredentials.stderr).toContain('no AWS credentials');
  });
});
