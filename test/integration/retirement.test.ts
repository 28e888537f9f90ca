import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { drainWorker } from '../../src/fleet/drain-worker';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { reapIdleWorkers } from '../../src/fleet/reap-idle-workers';
import { heartbeatKey } from '../../src/model/heartbeat';
import { TAG } from '../../src/model/tags';
import { AgentProcess, eventually } from './agent-process';
import { FakeImds } from './fake-imds';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

/**
 * The graceful path with real agents (#28): each worker runs the agent against a fake metadata service that serves
 * the instance's tags as the emulator's EC2 has them, so the drain request the reaper tags reaches the agent as on
 * an instance launched with InstanceMetadataTags. For every reason, the drain hook runs exactly once, before the
 * termination.
 */
const emulator = useEmulator();
let world: FleetWorld;
let dir: string;
const agents: AgentProcess[] = [];
const imdsServers: FakeImds[] = [];

beforeEach(async () => {
  world = await createFleetWorld(emulator());
  dir = mkdtempSync(join(tmpdir(), 'worker-fleet-retirement-'));
});

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.kill();
  for (const imds of imdsServers.splice(0)) await imds.stop();
});

function fleets(overrides: Record<string, unknown> = {}, idle: Record<string, unknown> = {}) {
  return {
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [world.subnets[0]?.subnetId],
      market: 'on-demand',
      targetCapacity: 2,
      drainGraceMinutes: 10,
      idle: {
        heartbeatTimeoutMinutes: 15,
        bootGraceMinutes: 0,
        terminateAfterMinutes: 10,
        minWorkers: 0,
        ...idle,
      },
      ...overrides,
    },
  };
}

type Spec = ReturnType<typeof fleets>;

async function launch(spec: Spec, target: number, id = 'setup'): Promise<string[]> {
  const [result] = await launchWorkers(world.deps(spec), { kind: 'direct', id, fleet: 'batch', target });
  return (result?.launched ?? []).map((worker) => worker.instanceId);
}

async function tagsOf(instanceId: string): Promise<Record<string, string>> {
  const [instance] = (await world.instances()).filter((candidate) => candidate.InstanceId === instanceId);
  return Object.fromEntries((instance?.Tags ?? []).map(({ Key, Value }) => [Key ?? '', Value ?? '']));
}

async function stateOf(instanceId: string) {
  return (await world.instances()).find((instance) => instance.InstanceId === instanceId)?.State?.Name;
}

const hookFile = (instanceId: string) => join(dir, `drained-${instanceId}`);
/** How many times a worker's drain hook ran (one line each). */
const hookRuns = (instanceId: string) =>
  existsSync(hookFile(instanceId))
    ? readFileSync(hookFile(instanceId), 'utf8').split('\n').filter(Boolean).length
    : 0;

/**
 * Starts the agent of each worker: its busy file says `status`, its drain hook appends a line to its own file, and
 * its metadata service serves the worker's tags as EC2 has them. Waits until every one has written a heartbeat.
 */
async function startAgents(instanceIds: readonly string[], status = 'idle', drainCommand = true) {
  for (const instanceId of instanceIds) {
    const imds = await FakeImds.start(instanceId);
    imds.tagSource = () => tagsOf(instanceId);
    imdsServers.push(imds);
    writeFileSync(join(dir, `status-${instanceId}`), `${status}\n`);
    agents.push(
      AgentProcess.start({
        imds,
        emulator: emulator(),
        bucket: world.fleetBucket,
        roleId: world.workerRoleId,
        env: {
          WF_BUSY_FILE: join(dir, `status-${instanceId}`),
          ...(drainCommand ? { WF_DRAIN_COMMAND: `sleep 1; echo ran >> ${hookFile(instanceId)}` } : {}),
          WF_PLANNED_DRAIN_TIMEOUT_SECONDS: '30',
        },
      }),
    );
  }
  for (const instanceId of instanceIds) {
    await eventually(
      () => heartbeatOf(instanceId),
      (body) => body === status,
    );
  }
}

/** A worker's heartbeat body as its agent wrote it; undefined before the first. */
async function heartbeatOf(instanceId: string): Promise<string | undefined> {
  try {
    const object = await world.s3.send(
      new GetObjectCommand({ Bucket: world.fleetBucket, Key: heartbeatKey(world.workerRoleId, instanceId) }),
    );
    return await object.Body?.transformToString();
  } catch {
    return undefined;
  }
}

/** Writes a heartbeat as the agent does: the status word alone. */
const writeHeartbeat = (instanceId: string, status: string) =>
  world.s3.send(
    new PutObjectCommand({
      Bucket: world.fleetBucket,
      Key: heartbeatKey(world.workerRoleId, instanceId),
      Body: status,
    }),
  );

const markIdle = (instanceIds: readonly string[], at: Date) =>
  world.ec2.send(
    new CreateTagsCommand({
      Resources: [...instanceIds],
      Tags: [
        { Key: TAG.idleSince, Value: at.toISOString() },
        { Key: TAG.idleReason, Value: 'heartbeat' },
      ],
    }),
  );

const minutesFromNow = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

/**
 * Runs the reaper (retirements only unless `idle`) until the worker is terminated, as its schedule would, and
 * returns how many times its drain hook had run when the run that terminated it began.
 */
async function reapUntilTerminated(
  spec: Spec,
  instanceId: string,
  now: () => Date,
  options: { idle?: boolean } = {},
): Promise<number> {
  let hookRunsBefore = -1;
  await eventually(
    async () => {
      const before = hookRuns(instanceId);
      const [run] = await reapIdleWorkers(world.reapDeps(spec, now), { retireOnly: options.idle !== true });
      if (run?.terminated.some((worker) => worker.instanceId === instanceId)) hookRunsBefore = before;
      return hookRunsBefore;
    },
    (runs) => runs >= 0,
    30,
  );
  return hookRunsBefore;
}

describe('retirement through the graceful path, with real agents', () => {
  it('idle: marked, then asked to drain (not replaced), its hook runs once, terminated once it reports drained', async () => {
    const spec = fleets();
    const [worker = ''] = await launch(spec, 1);
    await startAgents([worker]);

    const [marking] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    const [due] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(12)));
    const tags = await tagsOf(worker);
    const runsBefore = await reapUntilTerminated(spec, worker, minutesFromNow(13), { idle: true });

    expect(marking?.marked.map((marked) => marked.instanceId)).toEqual([worker]);
    expect(due?.draining).toEqual([worker]);
    expect(due?.terminated).toEqual([]);
    expect(tags[TAG.drainReason]).toBe('idle');
    expect(runsBefore).toBe(1);
    expect(await stateOf(worker)).toMatch(/shutting-down|terminated/);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(hookRuns(worker)).toBe(1);
    expect((await world.stateKeys()).filter((key) => key.includes('replacement#'))).toEqual([]);
    expect((await world.notifications()).map((notification) => notification.kind)).toContain(
      'idle-terminated',
    );
  });

  it('max lifetime at the default floor: replaced first, never marked idle nor warned, then drained once and terminated', async () => {
    const spec = fleets({}, { maxLifetimeHours: 1, minWorkers: undefined });
    const [worker = ''] = await launch(spec, 1);
    await startAgents([worker], 'busy');
    const later = minutesFromNow(61);

    const [first] = await reapIdleWorkers(world.reapDeps(spec, later));
    const waiting = await tagsOf(worker);
    // The reconciliation launches the replacement (the reconcile schedule, every minute by default).
    await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-1' });
    const [replacement = ''] = (await world.instances({ tag: TAG.replaces, value: worker })).map(
      (instance) => instance.InstanceId ?? '',
    );
    await startAgents([replacement], 'busy');
    const runsBefore = await reapUntilTerminated(spec, worker, later);

    expect(first?.replacing).toEqual([worker]);
    expect(first?.marked).toEqual([]);
    expect(Object.keys(waiting)).not.toContain(TAG.drainRequestedAt);
    expect(Object.keys(waiting)).not.toContain(TAG.idleSince);
    expect(replacement).toMatch(/^i-/);
    expect(runsBefore).toBe(1);
    expect(hookRuns(replacement)).toBe(0);
    expect(await stateOf(replacement)).toBe('running');
    const kinds = (await world.notifications()).map((notification) => notification.kind);
    expect(kinds).not.toContain('idle-warning');
    expect(kinds).toEqual(expect.arrayContaining(['replacement', 'drained']));
  });

  it('operator drain: graceful by default, replaced first, its hook once before the termination; --now skips the wait', async () => {
    const spec = fleets({ targetCapacity: 2 });
    const [drained = '', atOnce = ''] = await launch(spec, 2);
    await startAgents([drained, atOnce], 'busy');

    const graceful = await drainWorker(
      world.reapDeps(spec, () => new Date()),
      drained,
    );
    await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-1' });
    const runsBefore = await reapUntilTerminated(spec, drained, () => new Date());
    const now = await drainWorker(
      world.reapDeps(spec, () => new Date()),
      atOnce,
      { now: true },
    );

    expect(graceful.status).toBe('draining');
    expect(runsBefore).toBe(1);
    expect(now.status).toBe('terminated');
    expect(await stateOf(atOnce)).toMatch(/shutting-down|terminated/);
    expect(hookRuns(atOnce)).toBe(0);
  });

  it('operator drain --shrink: not replaced, the fleet lowered by one, drained once, terminated', async () => {
    const spec = fleets({ targetCapacity: 2 });
    const [drained = '', kept = ''] = await launch(spec, 2);
    await startAgents([drained, kept], 'busy');

    const result = await drainWorker(
      world.reapDeps(spec, () => new Date()),
      drained,
      { shrink: true },
    );
    const runsBefore = await reapUntilTerminated(spec, drained, () => new Date());
    // The reconcile schedule's pass (a launch schedule tick would set the target again, as it does after idle reaping).
    const [tick] = await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-after' });

    expect(result.status).toBe('draining');
    expect(runsBefore).toBe(1);
    expect(tick?.launched).toEqual([]);
    expect(hookRuns(kept)).toBe(0);
  });

  it('above a lowered maxCapacity: the excess retires, idle first, drained once each, not replaced', async () => {
    const spec = fleets({ targetCapacity: 3 });
    const [a = '', b = '', c = ''] = await launch(spec, 3);
    await startAgents([a, c], 'busy');
    await startAgents([b], 'idle');
    const lowered = fleets({ targetCapacity: 2, maxCapacity: 2 });

    const runsBefore = await reapUntilTerminated(lowered, b, () => new Date());

    expect(runsBefore).toBe(1);
    expect(hookRuns(a) + hookRuns(c)).toBe(0);
    expect(
      world.metrics.values.filter((entry) => entry.name === 'WorkersAboveMax').map((entry) => entry.value),
    ).toContain(1);
  });

  it('replace-early: the worker replaced early retires through the retire schedule, drained once', async () => {
    const spec = fleets({ targetCapacity: 1, rebalance: 'replace-early', rebalanceRetireAfterMinutes: 2 });
    const [worker = ''] = await launch(spec, 1);
    await startAgents([worker], 'busy');
    const { handleInstanceEvent } = await import('../../src/fleet/spot-interruption');
    const { instanceEvents } = await import('./spot-fleet');
    await handleInstanceEvent(
      world.interruptionDeps(spec),
      instanceEvents.rebalance(worker, `rebalance-${worker}`),
    );

    const runsBefore = await reapUntilTerminated(spec, worker, minutesFromNow(3));

    expect(runsBefore).toBe(1);
  });
});

describe('retirement faults', () => {
  it('F45: a reaper frozen between the drain request and the termination: the next run terminates the worker once it reports drained; its hook ran once', async () => {
    const spec = fleets();
    const [worker = ''] = await launch(spec, 1);
    await startAgents([worker]);
    await markIdle([worker], new Date(Date.now() - 30 * 60_000));
    // The run records the drain request, tags the worker, then freezes before anything else (its lease expires).
    emulator().faults.push({
      action: 'CreateTags',
      when: (_params, { body }) => body.includes(encodeURIComponent(TAG.drainRequestedAt)),
      code: 'Frozen',
      freeze: true,
      times: 1,
    });
    reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1))).catch(() => undefined);
    await emulator().nextFrozen();

    const runsBefore = await reapUntilTerminated(spec, worker, minutesFromNow(7));

    expect(runsBefore).toBe(1);
    expect(await stateOf(worker)).toMatch(/shutting-down|terminated/);
  });

  it('F46: a worker whose drained heartbeat never comes (its agent is gone) is terminated when its drain grace ends, not before', async () => {
    const spec = fleets();
    const [worker = ''] = await launch(spec, 1);
    await writeHeartbeat(worker, 'idle');
    await markIdle([worker], new Date(Date.now() - 30 * 60_000));

    const [asked] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(1)));
    const [inside] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(10)), { retireOnly: true });
    const [after] = await reapIdleWorkers(world.reapDeps(spec, minutesFromNow(11)), { retireOnly: true });

    expect(asked?.draining).toEqual([worker]);
    expect(inside?.terminated).toEqual([]);
    expect(inside?.waiting).toEqual([{ instanceId: worker, why: 'draining' }]);
    expect(after?.terminated.map((retired) => retired.instanceId)).toEqual([worker]);
    expect(after?.terminated[0]?.explanation).toMatch(/drain grace is over|idle:/);
    expect(await stateOf(worker)).toMatch(/shutting-down|terminated/);
  });

  it('F47: two reaper runs at once against one budget of 2: never more than 2 retirements under way', async () => {
    // Run A's clock is just before the oldest worker's max lifetime, run B's just after. Alone, A would start the
    // two idle workers' retirements, B the oldest's and one idle worker's: unserialised, 3 would be under way.
    const spec = fleets(
      { targetCapacity: 4, maxCapacity: 4, disruption: { budget: 2 } },
      { maxLifetimeHours: 1, heartbeatTimeoutMinutes: 120, minWorkers: 0 },
    );
    const [oldest = ''] = await launch(spec, 1, 'oldest');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [, idleA = '', idleB = '', busy = ''] = await launch(spec, 4, 'rest');
    const [instance] = (await world.instances()).filter((candidate) => candidate.InstanceId === oldest);
    const crossing = (instance?.LaunchTime?.getTime() ?? 0) + 3_600_000;
    for (const id of [oldest, busy]) await writeHeartbeat(id, 'busy');
    for (const id of [idleA, idleB]) await writeHeartbeat(id, 'idle');
    await markIdle([idleA, idleB], new Date(crossing - 30 * 60_000));
    const at = (ms: number) => () => new Date(ms);

    await Promise.all([
      reapIdleWorkers(world.reapDeps(spec, at(crossing - 500))),
      reapIdleWorkers(world.reapDeps(spec, at(crossing + 500))),
    ]);

    const retirements = (await world.stateKeys()).filter((key) => key.includes(' retirement#'));
    expect(retirements).toHaveLength(2);
  });
});
