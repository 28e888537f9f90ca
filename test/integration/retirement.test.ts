import { drainWorker } from '../../src/fleet/drain-worker';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { reapIdleWorkers } from '../../src/fleet/reap-idle-workers';
import { handleInstanceEvent } from '../../src/fleet/spot-interruption';
import { TAG } from '../../src/model/tags';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { retiringFleet } from './retiring-fleet';
import { otherImage, putImageParameter } from './scheduled-world';
import { instanceEvents } from './spot-fleet';
import { useEmulator } from './use-emulator';

/**
 * The graceful path with real agents (#28), for every reason: the drain hook runs exactly once, before the
 * termination. Its fault rows (F45-F47) are in faults.test.ts.
 */
const emulator = useEmulator();
let world: FleetWorld;
let fleet: ReturnType<typeof retiringFleet>;

beforeEach(async () => {
  world = await createFleetWorld(emulator());
  fleet = retiringFleet(world, emulator);
});

afterEach(async () => {
  await fleet.stop();
});

describe('retirement through the graceful path, with real agents', () => {
  it('idle: marked, then asked to drain (not replaced), its hook runs once, terminated once it reports drained', async () => {
    const spec = fleet.fleets();
    const [worker = ''] = await fleet.launch(spec, 1);
    await fleet.startAgents([worker]);

    const [marking] = await reapIdleWorkers(world.reapDeps(spec, fleet.minutesFromNow(1)));
    const [due] = await reapIdleWorkers(world.reapDeps(spec, fleet.minutesFromNow(12)));
    const tags = await fleet.tagsOf(worker);
    const runsBefore = await fleet.reapUntilTerminated(spec, worker, fleet.minutesFromNow(13), {
      idle: true,
    });

    expect(marking?.marked.map((marked) => marked.instanceId)).toEqual([worker]);
    expect(due?.draining).toEqual([worker]);
    expect(due?.terminated).toEqual([]);
    expect(tags[TAG.drainReason]).toBe('idle');
    expect(runsBefore).toBe(1);
    expect(await fleet.stateOf(worker)).toMatch(/shutting-down|terminated/);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(fleet.hookRuns(worker)).toBe(1);
    expect((await world.stateKeys()).filter((key) => key.includes('replacement#'))).toEqual([]);
    expect((await world.notifications()).map((notification) => notification.kind)).toContain(
      'idle-terminated',
    );
  });

  it('max lifetime at the default floor: replaced first, never marked idle nor warned, then drained once and terminated', async () => {
    const spec = fleet.fleets({}, { maxLifetimeHours: 1, minWorkers: undefined });
    const [worker = ''] = await fleet.launch(spec, 1);
    await fleet.startAgents([worker], 'busy');
    const later = fleet.minutesFromNow(61);

    const [first] = await reapIdleWorkers(world.reapDeps(spec, later));
    const waiting = await fleet.tagsOf(worker);
    // The reconciliation launches the replacement (the reconcile schedule, every minute by default).
    await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-1' });
    const [replacement = ''] = (await world.instances({ tag: TAG.replaces, value: worker })).map(
      (instance) => instance.InstanceId ?? '',
    );
    await fleet.startAgents([replacement], 'busy');
    const runsBefore = await fleet.reapUntilTerminated(spec, worker, later);

    expect(first?.replacing).toEqual([worker]);
    expect(first?.marked).toEqual([]);
    expect(Object.keys(waiting)).not.toContain(TAG.drainRequestedAt);
    expect(Object.keys(waiting)).not.toContain(TAG.idleSince);
    expect(replacement).toMatch(/^i-/);
    expect(runsBefore).toBe(1);
    expect(fleet.hookRuns(replacement)).toBe(0);
    expect(await fleet.stateOf(replacement)).toBe('running');
    const kinds = (await world.notifications()).map((notification) => notification.kind);
    expect(kinds).not.toContain('idle-warning');
    expect(kinds).toEqual(expect.arrayContaining(['replacement', 'drained']));
  });

  it('a scheduled change found only by the backstop (DescribeInstanceStatus): replaced first, its hook once, terminated before the change', async () => {
    const spec = fleet.fleets();
    const [worker = ''] = await fleet.launch(spec, 1);
    await fleet.startAgents([worker], 'busy');
    const notBefore = new Date(Date.now() + 3 * 24 * 3600_000);
    emulator().scheduledEvents.set(worker, [
      {
        instanceEventId: 'instance-event-0123456789abcdef0',
        code: 'instance-retirement',
        description: 'The instance is running on degraded hardware',
        notBefore,
      },
    ]);

    const [first] = await reapIdleWorkers(
      world.reapDeps(spec, () => new Date()),
      { retireOnly: true },
    );
    await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });
    const [replacement = ''] = (await world.replacementsOf(worker)).map(
      (instance) => instance.InstanceId ?? '',
    );
    await fleet.startAgents([replacement], 'busy');
    const tags = await fleet.tagsOf(worker);
    const runsBefore = await fleet.reapUntilTerminated(spec, worker, () => new Date());

    expect(first?.replacing).toEqual([worker]);
    expect(replacement).toMatch(/^i-/);
    expect(runsBefore).toBe(1);
    expect(fleet.hookRuns(replacement)).toBe(0);
    expect(await fleet.stateOf(worker)).toMatch(/shutting-down|terminated/);
    expect(Date.now()).toBeLessThan(notBefore.getTime());
    expect(Object.keys(tags)).not.toContain(TAG.idleSince);
  });

  it('AMI drift: the parameter names a new image; the worker on the old one is replaced first on the new image, its hook once, then terminated', async () => {
    const parameter = `/worker-fleet/test/drift-agent-${Date.now()}`;
    await putImageParameter(world, parameter, world.imageId);
    const spec = fleet.fleets({ ami: parameter, targetCapacity: 1 });
    const [worker = ''] = await fleet.launch(spec, 1);
    await fleet.startAgents([worker], 'busy');
    const next = await otherImage(world);
    await putImageParameter(world, parameter, next);
    // Past the 15 minutes an SSM parameter is kept: the reconciliation resolves and records the new image.
    const later = () => new Date(Date.now() + 16 * 60_000);
    await launchWorkers({ ...world.deps(spec), now: later }, { kind: 'reconcile', id: 'resolve' });

    const [first] = await reapIdleWorkers(world.reapDeps(spec, later), { retireOnly: true });
    await launchWorkers({ ...world.deps(spec), now: later }, { kind: 'reconcile', id: 'replace' });
    const [replacement] = await world.replacementsOf(worker);
    await fleet.startAgents([replacement?.InstanceId ?? ''], 'busy');
    const runsBefore = await fleet.reapUntilTerminated(spec, worker, later);

    expect(first?.replacing).toEqual([worker]);
    expect(replacement?.ImageId).toBe(next);
    expect(runsBefore).toBe(1);
    expect(fleet.hookRuns(worker)).toBe(1);
    expect(await fleet.stateOf(worker)).toMatch(/shutting-down|terminated/);
  });

  it('operator drain: graceful by default, replaced first, its hook once before the termination; --now skips the wait', async () => {
    const spec = fleet.fleets({ targetCapacity: 2 });
    const [drained = '', atOnce = ''] = await fleet.launch(spec, 2);
    await fleet.startAgents([drained, atOnce], 'busy');

    const graceful = await drainWorker(
      world.reapDeps(spec, () => new Date()),
      drained,
    );
    await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-1' });
    const runsBefore = await fleet.reapUntilTerminated(spec, drained, () => new Date());
    const now = await drainWorker(
      world.reapDeps(spec, () => new Date()),
      atOnce,
      { now: true },
    );

    expect(graceful.status).toBe('draining');
    expect(runsBefore).toBe(1);
    expect(now.status).toBe('terminated');
    expect(await fleet.stateOf(atOnce)).toMatch(/shutting-down|terminated/);
    expect(fleet.hookRuns(atOnce)).toBe(0);
  });

  it('operator drain --shrink: not replaced, the fleet lowered by one, drained once, terminated', async () => {
    const spec = fleet.fleets({ targetCapacity: 2 });
    const [drained = '', kept = ''] = await fleet.launch(spec, 2);
    await fleet.startAgents([drained, kept], 'busy');

    const result = await drainWorker(
      world.reapDeps(spec, () => new Date()),
      drained,
      { shrink: true },
    );
    const runsBefore = await fleet.reapUntilTerminated(spec, drained, () => new Date());
    // The reconcile schedule's pass (a launch schedule tick would set the target again, as it does after idle reaping).
    const [tick] = await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-after' });

    expect(result.status).toBe('draining');
    expect(runsBefore).toBe(1);
    expect(tick?.launched).toEqual([]);
    expect(fleet.hookRuns(kept)).toBe(0);
  });

  it('above a lowered maxCapacity: the excess retires, idle first, drained once each, not replaced', async () => {
    const spec = fleet.fleets({ targetCapacity: 3 });
    const [a = '', b = '', c = ''] = await fleet.launch(spec, 3);
    await fleet.startAgents([a, c], 'busy');
    await fleet.startAgents([b], 'idle');
    const lowered = fleet.fleets({ targetCapacity: 2, maxCapacity: 2 });

    const runsBefore = await fleet.reapUntilTerminated(lowered, b, () => new Date());

    expect(runsBefore).toBe(1);
    expect(fleet.hookRuns(a) + fleet.hookRuns(c)).toBe(0);
    expect(
      world.metrics.values.filter((entry) => entry.name === 'WorkersAboveMax').map((entry) => entry.value),
    ).toContain(1);
  });

  it('orphan: a fleet no longer configured keeps its workers for its grace, says so once, then each is drained once, not replaced, and terminated', async () => {
    const spec = fleet.fleets();
    const both = { ...spec, gone: { ...spec.batch, targetCapacity: 1 } };
    const [launched] = await launchWorkers(world.deps(both), { kind: 'direct', id: 'gone', fleet: 'gone' });
    const orphan = launched?.launched[0]?.instanceId ?? '';
    await fleet.startAgents([orphan], 'busy');

    const [, first] = await reapIdleWorkers(
      world.reapDeps(spec, () => new Date()),
      { retireOnly: true },
    );
    const [, inGrace] = await reapIdleWorkers(world.reapDeps(spec, fleet.minutesFromNow(29)), {
      retireOnly: true,
    });
    let terminated: string[] = [];
    for (let attempt = 0; attempt < 20 && terminated.length === 0; attempt += 1) {
      const [, run] = await reapIdleWorkers(world.reapDeps(spec, fleet.minutesFromNow(31)), {
        retireOnly: true,
      });
      terminated = (run?.terminated ?? []).map((worker) => worker.instanceId);
      if (terminated.length === 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    }

    expect(first).toMatchObject({ fleet: 'gone', terminated: [], draining: [] });
    expect(inGrace?.draining).toEqual([]);
    expect(terminated).toEqual([orphan]);
    expect(fleet.hookRuns(orphan)).toBe(1);
    expect((await world.stateKeys()).filter((key) => key.startsWith('fleet#gone replacement#'))).toEqual([]);
    // One notification said so, when they were found: none from the later runs.
    const told = (await world.notifications()).filter((notification) =>
      notification.subject.includes('no longer configured'),
    );
    expect(told).toEqual([expect.objectContaining({ kind: 'idle-warning', fleet: 'gone' })]);
    expect(told[0]?.body).toMatchObject({ orphans: [orphan] });
  });

  it('orphan: a fleet configured again within the grace forgets its workers’ retirements', async () => {
    const spec = fleet.fleets();
    const both = { ...spec, gone: { ...spec.batch, targetCapacity: 1 } };
    const [launched] = await launchWorkers(world.deps(both), { kind: 'direct', id: 'gone', fleet: 'gone' });
    const orphan = launched?.launched[0]?.instanceId ?? '';

    await reapIdleWorkers(
      world.reapDeps(spec, () => new Date()),
      { retireOnly: true },
    );
    const recorded = await world.stateKeys();
    await reapIdleWorkers(world.reapDeps(both, fleet.minutesFromNow(31)), { retireOnly: true });

    expect(recorded).toContain(`fleet#gone retirement#${orphan}`);
    expect(await world.stateKeys()).not.toContain(`fleet#gone retirement#${orphan}`);
    expect(Object.keys(await fleet.tagsOf(orphan))).not.toContain(TAG.drainRequestedAt);
  });

  it('replace-early: the worker replaced early retires through the retire schedule, drained once', async () => {
    const spec = fleet.fleets({
      targetCapacity: 1,
      rebalance: 'replace-early',
      rebalanceRetireAfterMinutes: 2,
    });
    const [worker = ''] = await fleet.launch(spec, 1);
    await fleet.startAgents([worker], 'busy');
    await handleInstanceEvent(
      world.interruptionDeps(spec),
      instanceEvents.rebalance(worker, `rebalance-${worker}`),
    );

    const runsBefore = await fleet.reapUntilTerminated(spec, worker, fleet.minutesFromNow(3));

    expect(runsBefore).toBe(1);
  });
});
