/**
 * The fault matrix (issue 17): each row injects the fault that would break a promise — a delivery frozen after a
 * step as a Lambda timeout leaves it, a retry, concurrent deliveries, a throttled or failing call, a shifted clock —
 * and proves the outcome against the emulator.
 */
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Fault } from '../../local/emulator';
import { lambdaContext } from '../../local/lambda-context';
import { toWorker } from '../../src/aws/ec2-workers';
import { createFleetConfigReader, FLEET_CONFIG_KEY } from '../../src/aws/fleet-config-store';
import { FleetConfigError } from '../../src/errors';
import { drainWorker } from '../../src/fleet/drain-worker';
import { CLAIM_TTL_MS } from '../../src/fleet/interruption-notice';
import { FleetLaunchError, launchWorkers } from '../../src/fleet/launch-workers';
import { poolMemoryOf } from '../../src/fleet/pool-memory';
import { REAP_LEASE_TTL_MS, reapIdleWorkers } from '../../src/fleet/reap-idle-workers';
import { LEASE_TTL_MS, SLOT_BUDGET_MS } from '../../src/fleet/reconcile-fleet';
import { recordPoolEvents } from '../../src/fleet/record-pool-events';
import { retirementOf } from '../../src/fleet/retirement-plan';
import { findDueRetirements, recordHealthEvent } from '../../src/fleet/scheduled-changes';
import { handleInstanceEvent } from '../../src/fleet/spot-interruption';
import { logger } from '../../src/logger';
import { FenceLostError, type FleetState } from '../../src/model/fleet-state';
import { heartbeatKey } from '../../src/model/heartbeat';
import { type PoolMemory, placementKey } from '../../src/model/pool';
import { TAG } from '../../src/model/tags';
import { replacedInstance } from '../../src/model/worker';
import { launchBatch } from './batch-fleet';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { retiringFleet } from './retiring-fleet';
import { fleetWorkers, healthEventNaming, otherImage, putImageParameter } from './scheduled-world';
import { instanceEvents, spotFleet } from './spot-fleet';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
let world: FleetWorld;

/**
 * Every row runs as EC2 answers: a repeated ClientToken gets the first launch's instances (the proxy, always), and
 * DescribeInstances lists an instance only this long after its launch (the test's own look sees everything).
 */
const LISTING_LAG_MS = 1000;

beforeEach(async () => {
  world = await createFleetWorld(emulator());
  emulator().listingLagMs = LISTING_LAG_MS;
});

/** Waits until what was launched so far is listed: a worker warned or judged has been running a while. */
const listed = () => new Promise((resolve) => setTimeout(resolve, LISTING_LAG_MS + 50));

const fleets = (overrides: Record<string, unknown> = {}) => spotFleet(world, overrides);

/** Launches the fleet to its target through the launcher and returns its workers. */
async function launched(spec = fleets()) {
  const [result] = await launchWorkers(world.deps(spec), { kind: 'direct', id: 'setup', fleet: 'batch' });
  if (result === undefined || result.launched.length === 0) throw new Error('setup launched no worker');
  await listed();
  return result.launched;
}

async function oneWorker(spec = fleets()) {
  const [worker] = await launched(spec);
  if (worker === undefined) throw new Error('setup launched no worker');
  return worker;
}

const warning = (instanceId: string, action = 'terminate', region?: string) =>
  instanceEvents.warning(instanceId, { id: `warning-${instanceId}`, action, region });
const rebalance = (instanceId: string) => instanceEvents.rebalance(instanceId, `rebalance-${instanceId}`);
const stateChange = (instanceId: string, state: string) =>
  instanceEvents.stateChange(instanceId, state, `state-${state}-${instanceId}`);

/** A clock this far ahead of the real one: what a retry a while later sees. */
const later = (ms: number) => () => new Date(Date.now() + ms);

const kinds = async () => (await world.notifications()).map((notification) => notification.kind);
const count = (list: readonly string[], kind: string) => list.filter((item) => item === kind).length;
const replacementsOf = (instanceId: string) => world.replacementsOf(instanceId);
const runningIn = async (fleet: string) =>
  (await world.instances({ tag: TAG.fleet, value: fleet })).filter(
    (instance) => instance.State?.Name === 'pending' || instance.State?.Name === 'running',
  );

/** The last heartbeat a worker's agent wrote: the status word alone, as the agent writes it. */
const lastHeartbeat = (instanceId: string, status: string) =>
  world.s3.send(
    new PutObjectCommand({
      Bucket: world.fleetBucket,
      Key: heartbeatKey(world.workerRoleId, instanceId),
      Body: status,
    }),
  );

/** Matches the PutEvents request that puts an event of this detail-type (faults match on the JSON body). */
const eventPut =
  (detailType: string) =>
  (_params: URLSearchParams, { body }: { body: string }) =>
    body.includes(`"DetailType":"${detailType}"`);
/** How many events of each notification detail-type (and Worker Draining) reached the bus's rules. */
const eventCounts = async () => {
  const counts: Record<string, number> = {};
  for (const { detailType } of await world.notificationEvents())
    counts[detailType] = (counts[detailType] ?? 0) + 1;
  counts['Worker Draining'] = (await world.drainingEvents()).length;
  return counts;
};

/** A worker's warning delivered while `fault` fails its requests (the delivery fails), then again: the retry's result. */
async function warnThroughAFailure(fault: Fault) {
  const worker = await oneWorker();
  emulator().faults.push(fault);
  await expect(
    handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
  ).rejects.toThrow();
  const retry = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));
  return { worker, retry };
}

/** Starts a delivery and waits until the emulator froze its next matching request: the invocation is dead. */
/** Polls `done` until it holds (10 s at most): what a frozen delivery did before it froze has reached the emulator. */
async function waitFor(done: () => Promise<boolean>): Promise<void> {
  for (const started = Date.now(); !(await done()); ) {
    if (Date.now() - started > 10_000) throw new Error('waited 10 s for the frozen delivery');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function freezeDuring(delivery: () => Promise<unknown>, fault: Omit<Fault, 'code' | 'freeze'>) {
  emulator().faults.push({ ...fault, code: 'Frozen', freeze: true, times: 1 });
  delivery().catch(() => undefined);
  return emulator().nextFrozen();
}

/** The warning of this worker notified once, Worker Draining once, the worker marked, and replaced once. */
async function expectWarnedOnce(instanceId: string) {
  expect(count(await kinds(), 'spot-interruption')).toBe(1);
  expect(await world.drainingEvents()).toHaveLength(1);
  const [marked] = await world.instances({ tag: TAG.interruption, value: 'terminate' });
  expect(marked?.InstanceId).toBe(instanceId);
  expect(await replacementsOf(instanceId)).toHaveLength(1);
}

describe('Interruptions', () => {
  it('F1: a delivery that dies right after taking the warning is finished by the retry: notified once, marked, Worker Draining once', async () => {
    const worker = await oneWorker();
    await freezeDuring(
      () => handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
      {
        action: 'Publish',
      },
    );
    const early = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    const retry = await handleInstanceEvent(
      world.interruptionDeps(fleets(), later(CLAIM_TTL_MS + 30_000)),
      warning(worker.instanceId),
    );

    // The replacement does not wait for the dead delivery's claim; the notification and the marking do.
    expect(early).toMatchObject({ status: 'replaced', replacement: { status: 'launched' } });
    expect(retry).toMatchObject({ status: 'notified' });
    await expectWarnedOnce(worker.instanceId);
  });

  it('F73: a delivery frozen while it tags the worker (as a Lambda timeout leaves it), its notice and Worker Draining sent: the retry tags it and sends neither again', async () => {
    const worker = await oneWorker();
    await freezeDuring(
      () => handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
      { action: 'CreateTags' },
    );
    await waitFor(async () => (await world.drainingEvents()).length === 1);

    // The replacement is the fleet's holder's, frozen delivery or retry: once either way.
    await handleInstanceEvent(
      world.interruptionDeps(fleets(), later(CLAIM_TTL_MS + 30_000)),
      warning(worker.instanceId),
    );

    await expectWarnedOnce(worker.instanceId);
  });

  it('F2: a delivery whose notification and then whose claim write fail is finished by the retry, notified once', async () => {
    const worker = await oneWorker();
    emulator().faults.push(
      { action: 'Publish', code: 'InternalError', status: 500, times: 1 },
      // The claim's write that leaves it open for the retry.
      {
        action: 'PutItem',
        when: (_params, { body }) => body.includes('claim#warning'),
        code: 'InternalError',
        status: 500,
        times: 1,
      },
    );
    const claimWrites = () =>
      emulator().requests.filter((request) => request.body.includes('claim#warning')).length;
    await expect(
      handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
    ).rejects.toThrow();

    const retry = await handleInstanceEvent(
      world.interruptionDeps(fleets(), later(CLAIM_TTL_MS + 30_000)),
      warning(worker.instanceId),
    );

    expect(claimWrites()).toBeGreaterThanOrEqual(3);
    expect(retry.status).toBe('replaced');
    expect(count(await kinds(), 'spot-interruption')).toBe(1);
    expect(await world.drainingEvents()).toHaveLength(1);
  });

  it("F3: the replacement's notification fails once: the retry sends it, once, and launches nothing more", async () => {
    const worker = await oneWorker();
    emulator().faults.push({
      action: 'Publish',
      when: (params) => [...params.values()].includes('replacement'),
      code: 'InternalError',
      status: 500,
      times: 1,
    });
    await expect(
      handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
    ).rejects.toThrow();

    await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    const sent = await kinds();
    expect(count(sent, 'replacement')).toBe(1);
    expect(count(sent, 'spot-interruption')).toBe(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
  });

  const poolMemory = async (): Promise<PoolMemory> => poolMemoryOf(await world.state.poolEvents(new Date()));
  it.each([
    ['CreateTags', { action: 'CreateTags' }],
    ['PutEvents of Worker Draining', { action: 'PutEvents', when: eventPut('Worker Draining') }],
  ] as const)(
    'F4: %s fails once: the retry does only what is missing, counted once, Worker Draining once',
    async (_name, fault) => {
      const { worker } = await warnThroughAFailure({
        ...fault,
        code: 'InternalError',
        status: 500,
        times: 1,
      });

      expect(await world.drainingEvents()).toHaveLength(1);
      expect(count(await kinds(), 'spot-interruption')).toBe(1);
      const events = (await poolMemory()).pools[placementKey(worker)] ?? [];
      expect(events.filter((event) => event.kind === 'interruption')).toHaveLength(1);
      const [marked] = await world.instances({ tag: TAG.interruption, value: 'terminate' });
      expect(marked?.InstanceId).toBe(worker.instanceId);
      expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    },
  );

  it('F31: the pool-event write fails: the delivery still succeeds, notified once, replaced once (pool memory is advice)', async () => {
    const worker = await oneWorker();
    emulator().faults.push({
      action: 'PutItem',
      when: (_params, { body }) => body.includes('"pools"'),
      code: 'InternalServerError',
      status: 500,
      times: 1,
    });

    const result = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    expect(result).toMatchObject({ status: 'replaced' });
    expect(count(await kinds(), 'spot-interruption')).toBe(1);
    expect(await world.drainingEvents()).toHaveLength(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    const poolWrites = emulator().requests.filter(
      (request) => request.action === 'PutItem' && request.body.includes('"pools"'),
    );
    expect(poolWrites).toHaveLength(1);
  });

  it("F32: a spot worker's terminated event before its warning: the interruption is counted once, in pool memory and the metric", async () => {
    const worker = await oneWorker();
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [worker.instanceId] }));
    emulator().reclaimed.add(worker.instanceId);

    await handleInstanceEvent(world.interruptionDeps(fleets()), stateChange(worker.instanceId, 'terminated'));
    await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    const events = (await poolMemory()).pools[placementKey(worker)] ?? [];
    expect(events.filter((event) => event.kind === 'interruption')).toHaveLength(1);
    expect(world.metrics.sum('Interruptions', { fleet: 'batch' })).toBe(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
  });

  it('F33: a count request redelivered after 100 other requests of its fleet is applied once', async () => {
    const spec = fleets({ targetCapacity: 1, maxCapacity: 10 });
    await launched(spec);
    const request = { kind: 'event', id: 'more-2', fleet: 'batch', count: 2 } as const;
    await launchWorkers(world.deps(spec), request);
    for (let n = 0; n < 100; n += 1)
      await world.state.addRequest('batch', {
        id: `other-${n}`,
        kind: 'event',
        target: 3,
        at: new Date().toISOString(),
      });
    await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });

    const [again] = await launchWorkers(world.deps(spec), request);

    expect(again).toMatchObject({ status: 'already-handled', launched: [] });
    expect(await runningIn('batch')).toHaveLength(3);
  });

  it('F5: with no capacity anywhere, the replacement waits through the warning and the termination, and launches once capacity returns', async () => {
    const worker = await oneWorker();
    emulator().faults.push({ action: 'RunInstances', code: 'InsufficientInstanceCapacity' });
    const warned = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [worker.instanceId] }));
    emulator().reclaimed.add(worker.instanceId);
    const ended = await handleInstanceEvent(
      world.interruptionDeps(fleets()),
      stateChange(worker.instanceId, 'terminated'),
    );
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
    emulator().faults.length = 0;

    const [tick] = await launchWorkers(world.deps(fleets()), { kind: 'schedule', id: 'tick-1' });

    expect(warned.replacement?.status).toBe('no-capacity');
    expect(ended.replacement?.status).toBe('no-capacity');
    expect(tick?.launched).toHaveLength(0);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    expect(await runningIn('batch')).toHaveLength(1);
  });

  it('F5: a replacement without capacity is told once, however many reconciliations retry it', async () => {
    const worker = await oneWorker();
    emulator().faults.push({ action: 'RunInstances', code: 'InsufficientInstanceCapacity' });
    await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    for (const id of ['tick-1', 'tick-2', 'tick-3']) {
      await launchWorkers(world.deps(fleets()), { kind: 'reconcile', id });
    }

    const noCapacity = (await world.notifications()).filter((n) =>
      n.subject.includes('no capacity to replace'),
    );
    expect(noCapacity).toHaveLength(1);
    expect(emulator().sent('RunInstances').length).toBeGreaterThan(4);
  });

  it('F6: a capacity error, then a failed record after a successful launch: exactly one replacement', async () => {
    const worker = await oneWorker();
    emulator().faults.push(
      { action: 'RunInstances', code: 'InsufficientInstanceCapacity', times: 1 },
      // The record of the launch's answer.
      {
        action: 'TransactWriteItems',
        when: (_params, { body }) => body.includes('"answered"'),
        code: 'InternalError',
        status: 500,
        times: 1,
      },
    );
    await expect(
      handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
    ).rejects.toThrow();

    await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));
    await handleInstanceEvent(world.interruptionDeps(fleets()), stateChange(worker.instanceId, 'terminated'));

    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    expect(count(await kinds(), 'replacement')).toBe(1);
  });

  it('F7: 12 warnings at once: 12 notifications, 12 Worker Draining, 12 replacements, every delivery succeeds, none lost in pool memory', async () => {
    const spec = fleets({ targetCapacity: 12, instanceTypes: ['c7g.large', 'm7g.large', 'r7g.large'] });
    const workers = await launched(spec);
    expect(workers).toHaveLength(12);

    const outcomes = await Promise.allSettled(
      workers.map((worker) => handleInstanceEvent(world.interruptionDeps(spec), warning(worker.instanceId))),
    );

    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    const sent = await kinds();
    expect(count(sent, 'spot-interruption')).toBe(12);
    expect(count(sent, 'replacement')).toBe(12);
    expect(await world.drainingEvents()).toHaveLength(12);
    for (const worker of workers) expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    const remembered = Object.values((await poolMemory()).pools).flat();
    expect(remembered.filter((event) => event.kind === 'interruption')).toHaveLength(12);
  });

  it('F76: maxCapacity lowered by a push while a container still holds the old one: its pass reads the fleet again before launching, and the waiting replacement stays waiting', async () => {
    const before = fleets({ targetCapacity: 6, maxCapacity: 6 });
    const [worker] = await launched(before);
    if (worker === undefined) throw new Error('setup launched no worker');
    await world.storeFleets(fleets({ targetCapacity: 4, maxCapacity: 4 }));
    const store = createFleetConfigReader({ s3: world.s3, bucket: world.stateBucket, logger });
    // The container read the fleets before the push (max 6); the store says 4 now.
    const stale = {
      ...world.interruptionDeps(before),
      currentSpec: async (fleet: string) => (await store.fleetsNow())[fleet],
    };
    const launchesBefore = emulator().sent('RunInstances').length;

    await handleInstanceEvent(stale, warning(worker.instanceId));

    expect(emulator().sent('RunInstances')).toHaveLength(launchesBefore);
    const facts = await world.state.readFacts('batch', new Date());
    expect(facts.replacements[worker.instanceId]?.status).toBe('pending');
    expect(await runningIn('batch')).toHaveLength(6);
  });

  it('F70: 24 warnings from one pool while the fleet is being reconciled: replaced in two RunInstances calls of 12, each worker by the instance at its launch index, each notice naming it', async () => {
    const spec = fleets({
      targetCapacity: 24,
      maxCapacity: 48,
      instanceTypes: ['c7g.large'],
      subnets: [world.subnets[0]?.subnetId],
    });
    const workers = await launched(spec);
    expect(workers).toHaveLength(24);
    // Another invocation holds the fleet's lease: every warning records its fact and hands the launch on.
    const holder = await world.state.takeLease('batch', 'reconcile', {
      holder: 'busy-holder',
      now: new Date(),
      ttlMs: LEASE_TTL_MS,
      handOff: false,
    });
    if (holder.kind !== 'held') throw new Error('setup: the lease was not taken');
    await Promise.all(
      workers.map((worker) => handleInstanceEvent(world.interruptionDeps(spec), warning(worker.instanceId))),
    );
    const before = emulator().sent('RunInstances').length;

    // The holder gives its lease back, the warnings' requests kept for the next run: one pass launches them all.
    await world.state.releaseLease(holder.lease, { now: new Date(), ttlMs: LEASE_TTL_MS, keepPending: true });
    await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-after-the-wave' });

    const launches = emulator().sent('RunInstances').slice(before);
    expect(launches.map((launch) => launch.params.get('MinCount'))).toEqual(['12', '12']);
    const notices = (await world.notifications()).filter(
      (notification) => notification.kind === 'replacement',
    );
    expect(notices).toHaveLength(24);
    for (const worker of workers) {
      const [replacement, ...more] = await replacementsOf(worker.instanceId);
      expect(more).toEqual([]);
      const notice = notices.find((notification) => notification.body.instanceId === worker.instanceId);
      expect(notice?.body.replacement).toMatchObject({ instanceIds: [replacement?.InstanceId] });
    }
  });

  /**
   * Delivers a warning as Lambda does an asynchronous event: once, then (if it failed) again a minute later and two
   * minutes after that, each time in a container of its own. Resolves to the attempts it took.
   */
  async function deliverAsLambda(spec: Record<string, unknown>, instanceId: string): Promise<number> {
    const retryAfterMs = [0, 60_000, 180_000];
    for (const [attempt, ms] of retryAfterMs.entries()) {
      try {
        await handleInstanceEvent(world.containerDeps(spec, later(ms)), warning(instanceId));
        return attempt + 1;
      } catch (error) {
        if (attempt === retryAfterMs.length - 1) throw error;
      }
    }
    throw new Error('unreachable');
  }

  async function expectWaveHandled(workers: readonly { instanceId: string }[], attempts: readonly number[]) {
    expect(attempts.filter((taken) => taken > 1)).toEqual([]);
    const sent = await world.notifications();
    const warned = sent.filter((notification) => notification.kind === 'spot-interruption');
    expect(warned.map((notification) => notification.body.instanceId).sort()).toEqual(
      workers.map((worker) => worker.instanceId).sort(),
    );
    // Each replacement replaces the worker at its launch index: every warned worker exactly once.
    const replaced = (await world.instances())
      .map((instance) => replacedInstance(toWorker(instance)))
      .filter((instanceId) => instanceId !== undefined);
    expect(replaced.sort()).toEqual(workers.map((worker) => worker.instanceId).sort());
  }

  it('F23: a wave of 100 warnings on one fleet, each delivery in its own container: every warning notified once, exactly one replacement each, no delivery retried', async () => {
    const spec = fleets({ targetCapacity: 100, maxCapacity: 200, instanceTypes: ['c7g.large', 'm7g.large'] });
    const workers = await launched(spec);
    expect(workers).toHaveLength(100);

    const attempts = await Promise.all(workers.map((worker) => deliverAsLambda(spec, worker.instanceId)));

    await expectWaveHandled(workers, attempts);
  }, 300_000);

  it('F24: two fleets, 100 warnings each at once: every warning notified once, exactly one replacement each, no delivery retried', async () => {
    const spec = {
      ...fleets({ targetCapacity: 100, maxCapacity: 200 }),
      etl: { ...fleets({ targetCapacity: 100, maxCapacity: 200 }).batch },
    };
    const [batch, etl] = await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'setup' });
    const workers = [...(batch?.launched ?? []), ...(etl?.launched ?? [])];
    expect(workers).toHaveLength(200);

    const attempts = await Promise.all(workers.map((worker) => deliverAsLambda(spec, worker.instanceId)));

    await expectWaveHandled(workers, attempts);
  }, 400_000);

  it('F7: 20 concurrent pool-memory updates: none is lost', async () => {
    const pools = Array.from({ length: 20 }, (_, n) => ({
      instanceType: 'c7g.large',
      subnetId: `subnet-${n}`,
    }));

    await Promise.all(
      pools.map((pool) =>
        recordPoolEvents(world.state, [{ pool, kind: 'interruption', id: `i-${pool.subnetId}` }], new Date()),
      ),
    );

    const memory = await poolMemory();
    expect(Object.keys(memory.pools).sort()).toEqual(pools.map(placementKey).sort());
  });
});

describe('A stale holder, a lagging listing, retried launches', () => {
  const tokensSent = () =>
    emulator()
      .sent('RunInstances')
      .map((request) => request.params.get('ClientToken'));
  /** The next holder: a reconcile tick whose clock is past the frozen holder's lease. */
  const nextHolder = (spec = fleets()) =>
    launchWorkers(
      { ...world.deps(spec), now: later(LEASE_TTL_MS + 1000) },
      { kind: 'reconcile', id: 'tick-next' },
    );

  it('F25: a pass frozen after recording its replacement, before RunInstances: the next holder re-sends that very request; one replacement', async () => {
    const worker = await oneWorker();
    await freezeDuring(
      () => handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
      {
        action: 'RunInstances',
      },
    );
    const frozen = tokensSent().at(-1);

    await nextHolder();

    expect(tokensSent().at(-1)).toBe(frozen);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
  });

  it('F26: a pass frozen after RunInstances answered, before the answer is recorded: the next holder gets the same instance back; one replacement', async () => {
    const worker = await oneWorker();
    await freezeDuring(
      () => handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
      {
        action: 'TransactWriteItems',
        when: (_params, { body }) => body.includes('"answered"'),
      },
    );
    const [launched] = await replacementsOf(worker.instanceId);

    await nextHolder();

    const replacements = await replacementsOf(worker.instanceId);
    expect(replacements.map((instance) => instance.InstanceId)).toEqual([launched?.InstanceId]);
    expect(new Set(tokensSent().slice(1)).size).toBe(1);
  });

  it('F72: a delivery whose pass stalls past its lease while another holder takes over succeeds: that holder launched its one replacement, and it is told once', async () => {
    const worker = await oneWorker();
    const deps = world.interruptionDeps(fleets());
    let stalled = false;
    // The pass stalls right after RunInstances answered, until its lease has expired and the next holder has run.
    const state: FleetState = {
      ...deps.state,
      commit: async (lease, changes) => {
        if (
          !stalled &&
          changes.some((change) => change.kind === 'intent' && change.intent.status === 'answered')
        ) {
          stalled = true;
          await nextHolder();
        }
        return deps.state.commit(lease, changes);
      },
    };

    const outcome = await handleInstanceEvent({ ...deps, state }, warning(worker.instanceId));

    expect(stalled).toBe(true);
    expect(outcome).toMatchObject({ replacement: { status: 'handed-off' } });
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    expect(count(await kinds(), 'replacement')).toBe(1);
  });

  it('F27: a stale holder whose pool choice changed meanwhile: the next holder re-sends the recorded pool, and the stale send gets the same instance', async () => {
    const worker = await oneWorker();
    await freezeDuring(
      () => handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
      {
        action: 'RunInstances',
      },
    );
    const [recorded] = (await world.state.readFacts('batch', new Date())).intents;
    const attempt = recorded?.attempt;
    if (attempt === undefined) throw new Error('setup: no recorded attempt');
    // Meanwhile the recorded pool ran out of capacity twice: a fresh choice would take another pool.
    await recordPoolEvents(
      world.state,
      ['a', 'b'].map((id) => ({ pool: attempt.pool, kind: 'capacity-error' as const, id })),
      new Date(),
    );

    await nextHolder();
    await world.ec2.send(new RunInstancesCommand(JSON.parse(attempt.input)));

    const replacements = await replacementsOf(worker.instanceId);
    expect(replacements).toHaveLength(1);
    expect(replacements[0]).toMatchObject({
      InstanceType: attempt.pool.instanceType,
      SubnetId: attempt.pool.subnetId,
    });
  });

  it('F28: two warnings in a row on a full fleet, DescribeInstances 3 s behind: one replacement each, no growth', async () => {
    const spec = fleets({ targetCapacity: 4, maxCapacity: 4 });
    const [first, second] = await launched(spec);
    // The fleet's own workers are listed by now; only what launches from here lags.
    await new Promise((resolve) => setTimeout(resolve, 3100));
    emulator().listingLagMs = 3000;

    await handleInstanceEvent(world.interruptionDeps(spec), warning(first?.instanceId ?? ''));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await handleInstanceEvent(world.interruptionDeps(spec), warning(second?.instanceId ?? ''));
    await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });

    expect(await replacementsOf(first?.instanceId ?? '')).toHaveLength(1);
    expect(await replacementsOf(second?.instanceId ?? '')).toHaveLength(1);
    expect(await runningIn('batch')).toHaveLength(6);
  });

  it('F29: the one worker a count launch added, drained, then refilled: a new worker, not the first one back', async () => {
    const spec = fleets({ targetCapacity: 2, maxCapacity: 4 });
    await launched(spec);
    const [added] = await launchWorkers(world.deps(spec), {
      kind: 'direct',
      id: 'cli-1',
      fleet: 'batch',
      count: 1,
    });
    const [one] = added?.launched ?? [];
    await listed();
    await world.ec2.send(new TerminateInstancesCommand({ InstanceIds: [one?.instanceId ?? ''] }));

    const [refill] = await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });

    expect(refill?.launched).toHaveLength(1);
    expect(refill?.launched[0]?.instanceId).not.toBe(one?.instanceId);
    expect(await runningIn('batch')).toHaveLength(3);
    expect(new Set(tokensSent()).size).toBe(tokensSent().length);
  });

  it('F34: a holder with too little time left starts no launch and hands the rest on; the next holder launches it, once', async () => {
    const worker = await oneWorker();
    const short = { ...world.interruptionDeps(fleets()), remainingMs: () => SLOT_BUDGET_MS - 1 };

    const warned = await handleInstanceEvent(short, warning(worker.instanceId));
    const before = await replacementsOf(worker.instanceId);
    await launchWorkers(world.deps(fleets()), { kind: 'reconcile', id: 'tick-1' });

    expect(warned.status).toBe('notified');
    expect(before).toHaveLength(0);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    expect(count(await kinds(), 'spot-interruption')).toBe(1);
  });

  /** Writes an item of the state table as it is given: garbage, as a bad byte or a bad hand would leave it. */
  const garbage = (pk: string, sk: string, fields: Record<string, { S: string } | { N: string }>) =>
    world.dynamodb.send(
      new PutItemCommand({ TableName: world.stateTable, Item: { pk: { S: pk }, sk: { S: sk }, ...fields } }),
    );

  it("F30: each kind of a fleet's state item replaced by garbage: set aside, counted, the fleet rebuilt from EC2 and its target", async () => {
    await garbage('fleet#batch', 'size', { desired: { S: 'four' } });
    await garbage('fleet#batch', 'request#junk', { target: { S: 'x' } });
    await garbage('fleet#batch', 'intent#grow-junk', { count: { S: 'x' } });
    await garbage('fleet#batch', 'lease#reconcile', { epoch: { S: 'x' }, until: { S: 'x' } });
    await garbage('deployment', 'sequence', { next: { S: 'x' } });

    const [tick] = await launchWorkers(world.deps(fleets({ targetCapacity: 2 })), {
      kind: 'reconcile',
      id: 'tick-1',
    });

    expect(tick).toMatchObject({ desired: 2 });
    expect(await runningIn('batch')).toHaveLength(2);
    expect(world.metrics.sum('StateItemsUnreadable', { fleet: 'batch' })).toBe(3);
    expect((await world.state.readFacts('batch', new Date())).unreadable).toEqual([]);
  });

  it('F30: a claim and a replacement fact replaced by garbage: the warning is still notified, the worker still replaced', async () => {
    const worker = await oneWorker();
    await world.ec2.send(
      new CreateTagsCommand({
        Resources: [worker.instanceId],
        Tags: [{ Key: TAG.interruptedAt, Value: new Date().toISOString() }],
      }),
    );
    await garbage(`fleet#batch`, `replacement#${worker.instanceId}`, { status: { N: '7' } });
    await garbage(`worker#${worker.instanceId}`, 'claim#warning', { state: { N: '1' } });

    const result = await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

    expect(result.status).not.toBe('duplicate');
    expect(count(await kinds(), 'spot-interruption')).toBe(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
  });
});

describe('What AWS schedules, and a new image', () => {
  const healthEvent = healthEventNaming;
  const workersOf = () => fleetWorkers(world, fleets());
  const due = async (spec = fleets()) =>
    findDueRetirements(world.deps(spec), 'batch', spec.batch, await workersOf());
  const retirementIn = (days: number) => new Date(Date.now() + days * 24 * 3600_000);

  it('F63: a Health event naming two workers, redelivered twice and once after a delivery that failed: each worker recorded once, retired once, before the scheduled time', async () => {
    const [a, b] = (await launched(fleets({ targetCapacity: 2 }))).map((worker) => worker.instanceId);
    if (a === undefined || b === undefined) throw new Error('setup launched fewer than 2 workers');
    const event = healthEvent([a, b]);
    emulator().faults.push({
      action: 'PutItem',
      when: (_params, { body }) => body.includes('scheduled#') && body.includes(b),
      code: 'InternalServerError',
      status: 500,
      times: 1,
    });
    await expect(recordHealthEvent(world.deps(fleets()), event)).rejects.toThrow();

    const retry = await recordHealthEvent(world.deps(fleets()), event);
    const again = await recordHealthEvent(world.deps(fleets()), event);

    expect(retry).toMatchObject({
      status: 'recorded',
      recorded: [{ instanceId: b, fleet: 'batch' }],
      known: [a],
    });
    expect(again).toMatchObject({ recorded: [], known: [a, b] });
    expect((await world.stateKeys()).filter((key) => key.includes(' scheduled#'))).toHaveLength(2);
    const retirements = await due();
    expect(retirements.map((retirement) => retirement.instanceId).sort()).toEqual([a, b].sort());
    for (const retirement of retirements) {
      expect(retirement).toMatchObject({ reason: 'scheduled-change', notAfter: event.startsAt });
    }
  });

  it('F75: a Health event naming two workers, through the retire schedule and the reconciliation: told once, each replaced first, drained, and terminated once drained, before the scheduled time; its redelivery changes nothing', async () => {
    const spec = fleets({ targetCapacity: 2, drainGraceMinutes: 10 });
    const [a, b] = (await launched(spec)).map((worker) => worker.instanceId);
    if (a === undefined || b === undefined) throw new Error('setup launched fewer than 2 workers');
    // Three days ahead, as AWS tells them (an RFC 1123 date).
    const event = healthEvent([a, b], { startTime: retirementIn(3).toUTCString() });
    await recordHealthEvent(world.deps(spec), event);
    const retire = () =>
      reapIdleWorkers(
        world.reapDeps(spec, () => new Date()),
        { retireOnly: true },
      );
    const terminatedSoFar = () =>
      emulator()
        .sent('TerminateInstances')
        .flatMap((call) => [...call.params.values()]);

    await retire();
    const told = (await world.notifications()).filter(
      (notification) => notification.kind === 'scheduled-change',
    );
    await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });
    await listed();
    await retire();
    const draining = await world.instances({ tag: TAG.drainReason, value: 'scheduled-change' });
    const terminatedBeforeDrained = terminatedSoFar();
    await lastHeartbeat(a, 'drained');
    await lastHeartbeat(b, 'drained');
    const [done] = await retire();

    expect(told).toHaveLength(1);
    expect(told[0]?.body).toMatchObject({
      workers: expect.arrayContaining(
        [a, b].map((instanceId) =>
          expect.objectContaining({
            instanceId,
            correlationId: event.eventArn,
            code: event.code,
            startsAt: event.startsAt.toISOString(),
          }),
        ),
      ),
    });
    expect(draining.map((instance) => instance.InstanceId).sort()).toEqual([a, b].sort());
    expect(terminatedBeforeDrained).not.toEqual(expect.arrayContaining([a]));
    expect(terminatedBeforeDrained).not.toEqual(expect.arrayContaining([b]));
    expect(done?.terminated.map((worker) => worker.instanceId).sort()).toEqual([a, b].sort());
    expect(done?.terminated[0]?.explanation).toMatch(/its agent reports drained/);
    expect(Date.now()).toBeLessThan(event.startsAt.getTime());
    const replacements = [...(await replacementsOf(a)), ...(await replacementsOf(b))];
    expect(replacements).toHaveLength(2);
    const running = (await runningIn('batch')).map((instance) => instance.InstanceId).sort();
    expect(running).toEqual(replacements.map((instance) => instance.InstanceId).sort());

    await recordHealthEvent(world.deps(spec), event);
    await retire();
    await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-2' });
    expect(await runningIn('batch')).toHaveLength(2);
    expect(count(await kinds(), 'scheduled-change')).toBe(1);
  });

  it('F64: a scheduled retirement no event told, found by the backstop in DescribeInstanceStatus: retired once; a completed one is not; a dry run records none', async () => {
    const [a, b] = (await launched(fleets({ targetCapacity: 2 }))).map((worker) => worker.instanceId);
    if (a === undefined || b === undefined) throw new Error('setup launched fewer than 2 workers');
    const notBefore = retirementIn(10);
    emulator().scheduledEvents.set(a, [
      {
        instanceEventId: 'instance-event-0a1b2c3d4e5f60718',
        code: 'instance-retirement',
        description: 'The instance is running on degraded hardware',
        notBefore,
      },
    ]);
    emulator().scheduledEvents.set(b, [
      {
        instanceEventId: 'instance-event-0f1e2d3c4b5a69788',
        code: 'system-reboot',
        description: '[Completed] Scheduled reboot',
        notBefore,
      },
    ]);

    // A dry run reads the scheduled events, says what it would do, and records nothing.
    const [dry] = await reapIdleWorkers(
      world.reapDeps(fleets({ targetCapacity: 2 }), () => new Date()),
      {
        retireOnly: true,
        dryRun: true,
      },
    );
    const keysAfterDryRun = (await world.stateKeys()).filter((key) => key.includes(' scheduled#'));
    // The retirement run's facts, read before the backstop ran: what it finds is added to them.
    const before = await world.state.readFacts('batch', new Date());
    const first = await findDueRetirements(
      world.deps(fleets()),
      'batch',
      fleets().batch,
      await workersOf(),
      before,
    );
    const second = await due();

    expect(first).toEqual([
      expect.objectContaining({ instanceId: a, reason: 'scheduled-change', notAfter: notBefore }),
    ]);
    expect(second).toEqual(first);
    expect(keysAfterDryRun).toEqual([]);
    expect(dry?.dryRun).toBe(true);
    expect(emulator().sent('DescribeInstanceStatus').length).toBeGreaterThanOrEqual(3);
    expect((await world.stateKeys()).filter((key) => key.includes(' scheduled#'))).toHaveLength(1);
  });

  it('F65: a Health event naming an instance tagged as ours by hand (no worker profile), and one of another deployment: both ignored, nothing recorded', async () => {
    const worker = await oneWorker();
    const config = world.config(fleets());
    const [forged, foreign] = await Promise.all(
      [config.managedBy, 'worker-fleet-other'].map(async (managedBy) => {
        const run = await world.ec2.send(
          new RunInstancesCommand({
            ImageId: world.imageId,
            MinCount: 1,
            MaxCount: 1,
            InstanceType: 'c7g.large',
            TagSpecifications: [
              {
                ResourceType: 'instance',
                Tags: [
                  { Key: TAG.managedBy, Value: managedBy },
                  { Key: TAG.fleet, Value: 'batch' },
                ],
              },
            ],
          }),
        );
        return run.Instances?.[0]?.InstanceId ?? '';
      }),
    );
    await listed();

    const result = await recordHealthEvent(
      world.deps(fleets()),
      healthEvent([forged ?? '', foreign ?? '', worker.instanceId]),
    );

    expect(result.recorded).toEqual([{ instanceId: worker.instanceId, fleet: 'batch' }]);
    expect(result.ignored).toEqual([
      { instanceId: forged, reason: 'not a worker of this deployment' },
      { instanceId: foreign, reason: 'not a worker of this deployment' },
    ]);
    expect((await world.stateKeys()).filter((key) => key.includes(' scheduled#'))).toHaveLength(1);
  });

  it('F66: the AMI parameter changes: within 15 minutes the reconciliation resolves the new image, and every worker on the old one is drifted', async () => {
    const parameter = `/worker-fleet/test/drift-${Date.now()}`;
    const next = await otherImage(world);
    await putImageParameter(world, parameter, world.imageId);
    const spec = fleets({ ami: parameter, targetCapacity: 2 });
    await launched(spec);
    expect(await due(spec)).toEqual([]);

    await putImageParameter(world, parameter, next);
    await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1', fleet: 'batch' });
    expect(await due(spec)).toEqual([]);
    const passLater = { ...world.deps(spec), now: later(16 * 60_000) };
    await launchWorkers(passLater, { kind: 'reconcile', id: 'tick-2', fleet: 'batch' });

    const drifted = await due(spec);
    expect(drifted.map((retirement) => retirement.reason)).toEqual(['ami-drift', 'ami-drift']);
    expect(drifted[0]?.detail).toEqual({ imageId: world.imageId, fleetImage: next });
    expect((await world.state.readFacts('batch', new Date())).image).toMatchObject({
      ami: parameter,
      imageId: next,
    });
  });

  it('F78: the AMI parameter changes on a 4-worker fleet with a budget of 2: every drifted worker replaced first on the new image, drained, then retired once it reports drained, never more than 2 at a time', async () => {
    const parameter = `/worker-fleet/test/rolling-${Date.now()}`;
    const next = await otherImage(world);
    await putImageParameter(world, parameter, world.imageId);
    const spec = fleets({
      ami: parameter,
      targetCapacity: 4,
      maxCapacity: 6,
      drainGraceMinutes: 10,
      disruption: { budget: 2 },
    });
    const old = (await launched(spec)).map((worker) => worker.instanceId);
    await putImageParameter(world, parameter, next);
    // Past the 15 minutes an SSM parameter is kept: the reconciliation resolves the new image.
    const passLater = { ...world.deps(spec), now: later(16 * 60_000) };
    const reconcile = async (id: string) => {
      await launchWorkers(passLater, { kind: 'reconcile', id, fleet: 'batch' });
      await listed();
    };
    await reconcile('tick-0');

    const underWay: number[] = [];
    const drainedBeforeTerminated: boolean[] = [];
    for (let round = 1; round <= 9; round += 1) {
      const [run] = await reapIdleWorkers(world.reapDeps(spec, later(16 * 60_000)), { retireOnly: true });
      underWay.push(
        (run?.replacing?.length ?? 0) + (run?.draining?.length ?? 0) + (run?.waiting?.length ?? 0),
      );
      drainedBeforeTerminated.push(
        ...(run?.terminated ?? []).map((worker) => worker.explanation.includes('its agent reports drained')),
      );
      // The agents of the workers asked to drain report drained, as a real agent does once its hook has run.
      for (const { InstanceId = '' } of await world.instances({ tag: TAG.drainReason, value: 'ami-drift' }))
        await lastHeartbeat(InstanceId, 'drained');
      await reconcile(`tick-${round}`);
    }

    const running = await runningIn('batch');
    expect(running).toHaveLength(4);
    expect(running.map((instance) => instance.ImageId)).toEqual([next, next, next, next]);
    expect(running.map((instance) => instance.InstanceId)).not.toEqual(expect.arrayContaining([old[0]]));
    expect(Math.max(...underWay)).toBeLessThanOrEqual(2);
    expect(drainedBeforeTerminated).toEqual([true, true, true, true]);
  });

  it('F67: a Health event of another region (a backup delivered here) changes nothing, and says so', async () => {
    const worker = await oneWorker();
    emulator().requests.length = 0;

    const result = await recordHealthEvent(
      world.deps(fleets()),
      healthEvent([worker.instanceId], {}, 'eu-west-1'),
    );

    expect(result).toMatchObject({ status: 'other-region', recorded: [] });
    expect(emulator().requests).toEqual([]);
  });

  it('F68: a Health event closed after it was recorded: nothing due; a late redelivery of the open event does not reopen it', async () => {
    const [a, b] = (await launched(fleets({ targetCapacity: 2 }))).map((worker) => worker.instanceId);
    if (a === undefined || b === undefined) throw new Error('setup launched fewer than 2 workers');
    const open = healthEvent([a, b]);
    await recordHealthEvent(world.deps(fleets()), open);
    expect(await due()).toHaveLength(2);

    await recordHealthEvent(world.deps(fleets()), healthEvent([a, b], { statusCode: 'closed' }));
    await recordHealthEvent(world.deps(fleets()), open);

    expect(await due()).toEqual([]);
  });

  it('F69: the AMI parameter unreadable: the recorded image stands, no worker is judged drifted on a guess', async () => {
    const parameter = `/worker-fleet/test/unreadable-${Date.now()}`;
    await putImageParameter(world, parameter, world.imageId);
    const spec = fleets({ ami: parameter });
    await launched(spec);
    emulator().faults.push({ action: 'GetParameter', code: 'InternalServerError', status: 500 });

    await launchWorkers(
      { ...world.deps(spec), now: later(16 * 60_000) },
      { kind: 'reconcile', id: 'tick', fleet: 'batch' },
    );

    expect((await world.state.readFacts('batch', new Date())).image).toMatchObject({
      imageId: world.imageId,
    });
    expect(await due(spec)).toEqual([]);
  });
});

describe('Launch', () => {
  it('F8: RunInstances throttled for one subnet: the rest is registered and notified, and the retry launches exactly what is missing', async () => {
    const spec = fleets({ targetCapacity: 4, maxCapacity: 8 });
    const throttled = world.subnets[1]?.subnetId ?? '';
    emulator().faults.push({
      action: 'RunInstances',
      when: (params) => params.get('SubnetId') === throttled,
      code: 'RequestLimitExceeded',
      status: 503,
      times: 1,
    });
    const request = { kind: 'event', id: 'more-1', fleet: 'batch', count: 4 } as const;
    await expect(launchWorkers(world.deps(spec), request)).rejects.toThrow(FleetLaunchError);
    const first = await runningIn('batch');
    const [told] = await world.notifications();

    const [retry] = await launchWorkers(world.deps(spec), request);

    expect(first).toHaveLength(2);
    expect(told).toMatchObject({ kind: 'launch', subject: 'worker-fleet batch: launched 2 of 4 workers' });
    for (const instance of first) {
      expect(await world.state.lookUpWorker(instance.InstanceId ?? '')).toBeDefined();
    }
    expect(retry?.launched).toHaveLength(2);
    expect(await runningIn('batch')).toHaveLength(4);
  });

  it('F5: a fleet short of capacity is told once, however many reconciliations retry it', async () => {
    emulator().faults.push({ action: 'RunInstances', code: 'InsufficientInstanceCapacity' });
    await launchWorkers(world.deps(fleets({ targetCapacity: 2 })), { kind: 'schedule', id: 'tick-1' });

    for (const id of ['tick-2', 'tick-3']) {
      await launchWorkers(world.deps(fleets({ targetCapacity: 2 })), { kind: 'reconcile', id });
    }

    expect(count(await kinds(), 'launch-failed')).toBe(1);
    expect(emulator().sent('RunInstances').length).toBeGreaterThan(8);
  });

  it('F9: a schedule tick, a launch request and a CLI launch at once: the fleet ends at exactly its target', async () => {
    const spec = fleets({ targetCapacity: 3, maxCapacity: 3 });
    const deps = world.deps(spec);

    const results = await Promise.all([
      launchWorkers(deps, { kind: 'schedule', id: 'tick-1' }),
      launchWorkers(deps, { kind: 'event', id: 'request-1', fleet: 'batch', target: 3 }),
      launchWorkers(deps, { kind: 'direct', id: 'cli-1', fleet: 'batch' }),
    ]);

    expect(await runningIn('batch')).toHaveLength(3);
    expect(results.flat().reduce((sum, result) => sum + result.launched.length, 0)).toBe(3);
  });

  it("a reconciliation that dies holding its fleet's lease blocks the fleet no longer than the lease's expiry", async () => {
    const spec = fleets({ targetCapacity: 2 });
    await freezeDuring(() => launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-1' }), {
      action: 'RunInstances',
    });

    await listed();
    // One subnet's share launched before the other's request froze: the fleet has one worker.
    const [soon] = await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-2' });
    const [later_] = await launchWorkers(
      { ...world.deps(spec), now: later(LEASE_TTL_MS + 1000) },
      {
        kind: 'reconcile',
        id: 'tick-3',
      },
    );

    expect(soon?.status).toBe('handed-off');
    expect(later_?.launched).toHaveLength(1);
    expect(await runningIn('batch')).toHaveLength(2);
  });

  it('F36: two targets delivered out of order (5 sent after 2, delivered first): the newer stands, the older changes nothing', async () => {
    const spec = fleets({ targetCapacity: 1, maxCapacity: 6 });
    const sent = Date.now();
    await launchWorkers(world.deps(spec), {
      kind: 'event',
      id: 'five',
      fleet: 'batch',
      target: 5,
      time: new Date(sent),
    });

    const [late] = await launchWorkers(world.deps(spec), {
      kind: 'event',
      id: 'two',
      fleet: 'batch',
      target: 2,
      time: new Date(sent - 60_000),
    });

    expect(late).toMatchObject({ desired: 5 });
    expect(await runningIn('batch')).toHaveLength(5);
  });

  it('F10: with the state table failing, nothing is launched unrecorded; the retry launches exactly the target', async () => {
    for (const action of ['PutItem', 'UpdateItem', 'TransactWriteItems'])
      emulator().faults.push({ action, code: 'InternalServerError', status: 500 });
    const tick = { kind: 'schedule', id: 'tick-1' } as const;
    await expect(launchWorkers(world.deps(fleets({ targetCapacity: 2 })), tick)).rejects.toThrow();
    expect(emulator().sent('RunInstances')).toHaveLength(0);
    emulator().faults.length = 0;

    const [retry] = await launchWorkers(world.deps(fleets({ targetCapacity: 2 })), tick);

    expect(retry).toMatchObject({ status: 'launched', shortfall: 0 });
    expect(await runningIn('batch')).toHaveLength(2);
  });

  it('F20: a fleet emptied and refilled launches new workers: no ClientToken is sent twice for two launches', async () => {
    const spec = fleets({ targetCapacity: 2 });
    const first = await launched(spec);
    await world.ec2.send(
      new TerminateInstancesCommand({ InstanceIds: first.map((worker) => worker.instanceId) }),
    );

    const [refill] = await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-2' });

    expect(refill?.launched).toHaveLength(2);
    expect(await runningIn('batch')).toHaveLength(2);
    const tokens = emulator()
      .sent('RunInstances')
      .map((request) => request.params.get('ClientToken'));
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('F21: DescribeInstances 3 s behind a launch, and a pass 100 ms later: the in-flight workers count, nothing more is launched', async () => {
    const spec = fleets({ targetCapacity: 4, maxCapacity: 4 });
    emulator().listingLagMs = 3000;
    await launchWorkers(world.deps(spec), { kind: 'direct', id: 'setup', fleet: 'batch' });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const [again] = await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-2' });

    expect(again).toMatchObject({ active: 4, launched: [] });
    expect(emulator().sent('DescribeInstances').length).toBeGreaterThan(0);
    expect(await runningIn('batch')).toHaveLength(4);
  });

  it('F22: a holder whose lease expired and was taken over records nothing, so launches nothing', async () => {
    const stale = await world.state.takeLease('batch', 'reconcile', {
      holder: 'stale-holder',
      now: new Date(Date.now() - LEASE_TTL_MS - 1000),
      ttlMs: LEASE_TTL_MS,
      handOff: false,
    });
    if (stale.kind !== 'held') throw new Error('setup: the lease was not taken');
    await launchWorkers(world.deps(fleets({ targetCapacity: 1 })), { kind: 'schedule', id: 'tick-1' });

    await expect(world.state.commit(stale.lease, [{ kind: 'size', size: { desired: 9 } }])).rejects.toThrow(
      FenceLostError,
    );
    expect((await world.state.readFacts('batch', new Date())).size?.desired).toBe(1);
  });
});

/** The reaper's clock, `minutes` ahead of the emulator's (which stamps heartbeats with the real time). */
const minutesFromNow = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

describe('Idle reaping', () => {
  let warnings: { message: string; fields: Record<string, unknown> }[];
  beforeEach(() => {
    warnings = [];
    jest.spyOn(logger, 'warn').mockImplementation((message, ...extras) => {
      warnings.push({
        message: String(message),
        fields: Object.assign({}, ...extras.filter((extra) => typeof extra === 'object')),
      });
    });
  });
  afterEach(() => jest.restoreAllMocks());

  /** One on-demand fleet judged on heartbeats alone: no boot grace, terminated 10 minutes after the mark. */
  const spec = () => ({
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [world.subnets[0]?.subnetId],
      market: 'on-demand',
      targetCapacity: 6,
      idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 0, terminateAfterMinutes: 10, minWorkers: 0 },
    },
  });

  async function launch(count: number): Promise<string[]> {
    const [result] = await launchWorkers(world.deps(spec()), {
      kind: 'direct',
      id: 'faults-setup',
      fleet: 'batch',
      target: count,
    });
    await listed();
    return (result?.launched ?? []).map((worker) => worker.instanceId);
  }

  it('F35: a marked worker whose agent writes busy after the run listed the heartbeats is kept: never a busy worker, up to its termination', async () => {
    const [worker = ''] = await launch(1);
    await lastHeartbeat(worker, 'idle');
    await reapIdleWorkers(world.reapDeps(spec(), minutesFromNow(1)));
    const deps = world.reapDeps(spec(), minutesFromNow(12));
    // The agent writes `busy` once the run has listed the heartbeats and taken the fleet's lease.
    const state: FleetState = {
      ...deps.state,
      takeLease: async (...args) => {
        const taken = await deps.state.takeLease(...args);
        await lastHeartbeat(worker, 'busy');
        return taken;
      },
    };

    const [run] = await reapIdleWorkers({ ...deps, state });

    expect(run?.terminated).toEqual([]);
    const [instance] = await world.instances({ tag: TAG.fleet, value: 'batch' });
    expect(instance?.State?.Name).toBe('running');
  });

  it('F71: a launch schedule and idle reaping with minWorkers below targetCapacity do not churn: the floor holds until the target changes or another trigger asks', async () => {
    const churning = {
      // No drain grace: the idle workers are terminated when due, as the row is about what comes after.
      batch: {
        ...spec().batch,
        targetCapacity: 3,
        drainGraceMinutes: 0,
        idle: { ...spec().batch.idle, minWorkers: 1 },
      },
    };
    const [first] = await launchWorkers(world.deps(churning), { kind: 'schedule', id: 'tick-1' });
    await listed();
    for (const worker of first?.launched ?? []) await lastHeartbeat(worker.instanceId, 'idle');
    await reapIdleWorkers(world.reapDeps(churning, minutesFromNow(1)));
    const [reaped] = await reapIdleWorkers(world.reapDeps(churning, minutesFromNow(12)));
    expect(reaped?.terminated).toHaveLength(2);
    const launchesBefore = emulator().sent('RunInstances').length;

    for (const id of ['tick-2', 'tick-3', 'tick-4']) {
      await launchWorkers(world.deps(churning), { kind: 'schedule', id });
    }

    expect(emulator().sent('RunInstances')).toHaveLength(launchesBefore);
    expect(await runningIn('batch')).toHaveLength(1);
    expect((await world.state.readFacts('batch', new Date())).size?.desired).toBe(1);
    // Asked by a trigger of another kind, the fleet goes back to its target.
    const [asked] = await launchWorkers(world.deps(churning), {
      kind: 'direct',
      id: 'cli',
      fleet: 'batch',
      target: 3,
    });
    expect(asked?.launched).toHaveLength(2);
  });

  it('F12: two reaper runs at once never take the fleet below its floor', async () => {
    // Three on-demand workers launched a second apart, a floor of 1, a max lifetime of an hour: run A's clock is
    // just before the second worker's hour, run B's just after. Before #28 each would terminate 2 workers (A the
    // oldest and the idle one, B the two past their lifetime), and together, unserialised, all 3. Now a worker past
    // its lifetime is replaced first and never terminated by the floor's allowance, so the floor holds either way;
    // the reaper's lease now guards the disruption budget (F47).
    const floorSpec = {
      batch: {
        ami: world.imageId,
        instanceTypes: ['c7g.large'],
        subnets: [world.subnets[0]?.subnetId],
        market: 'on-demand',
        targetCapacity: 1,
        maxCapacity: 3,
        drainGraceMinutes: 0,
        idle: {
          heartbeatTimeoutMinutes: 120,
          bootGraceMinutes: 0,
          terminateAfterMinutes: 0,
          maxLifetimeHours: 1,
          minWorkers: 1,
        },
      },
    };
    const ids: string[] = [];
    for (const id of ['oldest', 'second', 'newest']) {
      const [result] = await launchWorkers(world.deps(floorSpec), {
        kind: 'direct',
        id,
        fleet: 'batch',
        count: 1,
      });
      ids.push(result?.launched[0]?.instanceId ?? '');
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    const [oldest = '', second = '', newest = ''] = ids;
    for (const id of ids) await lastHeartbeat(id, 'idle');
    const [secondInstance] = await world.instances({ tag: TAG.triggerId, value: 'second' });
    const crossing = (secondInstance?.LaunchTime?.getTime() ?? 0) + 3_600_000;
    const at = (ms: number) => () => new Date(ms);
    await reapIdleWorkers(world.reapDeps(floorSpec, at(crossing - 1500)));
    await lastHeartbeat(second, 'busy');

    const [runA, runB] = await Promise.all([
      reapIdleWorkers(world.reapDeps(floorSpec, at(crossing - 500))),
      reapIdleWorkers(world.reapDeps(floorSpec, at(crossing + 500))),
    ]);

    const terminated = [...(runA?.[0]?.terminated ?? []), ...(runB?.[0]?.terminated ?? [])].map(
      (w) => w.instanceId,
    );
    // Workers past their lifetime retire through replacement (#28): never terminated before it runs, nor counted
    // by the floor; at most the one idle worker goes, whichever run goes first.
    expect(terminated.filter((id) => id !== newest)).toEqual([]);
    const keys = await world.stateKeys();
    expect(keys).toEqual(
      expect.arrayContaining([`fleet#batch replacement#${oldest}`, `fleet#batch retirement#${oldest}`]),
    );
    expect(await runningIn('batch')).toHaveLength(3 - terminated.length);
  });

  it("a reaper run that dies holding its fleet's lease holds the fleet no longer than the lease's expiry", async () => {
    const workers = await launch(2);
    for (const id of workers) await lastHeartbeat(id, 'idle');
    await freezeDuring(() => reapIdleWorkers(world.reapDeps(spec(), minutesFromNow(1))), {
      action: 'CreateTags',
    });

    const [after] = await reapIdleWorkers(
      world.reapDeps(spec(), () => new Date(Date.now() + REAP_LEASE_TTL_MS + 60_000)),
    );

    expect(after?.held).toBeUndefined();
    expect(after?.marked.map((worker) => worker.instanceId).sort()).toEqual([...workers].sort());
  });

  it('F13: a stale busy heartbeat is unknown; when most go stale at once the run marks and terminates nothing, and says why', async () => {
    const [wasBusy = '', wasIdle = '', ...others] = await launch(6);
    await lastHeartbeat(wasBusy, 'busy');
    await lastHeartbeat(wasIdle, 'idle');

    // 30 minutes on, 2 of 6 heartbeats are stale (the other 4 workers never wrote one): each is judged alone.
    const [few] = await reapIdleWorkers(world.reapDeps(spec(), minutesFromNow(30)));

    expect(few?.held).toBeUndefined();
    expect(few?.marked.map((worker) => worker.instanceId)).toEqual([wasIdle]);
    expect(few?.verdicts).toEqual({ idle: 1, unknown: 5 });

    // Then 5 of the 6 are stale (an S3, IAM or agent outage): the marked worker is due, and nothing happens.
    for (const instanceId of others.slice(0, 3)) await lastHeartbeat(instanceId, 'idle');
    const [most] = await reapIdleWorkers(world.reapDeps(spec(), minutesFromNow(45)));

    const held = 'most heartbeats stale: 5 of 6 workers past boot grace have no heartbeat newer than 15m';
    expect(most).toMatchObject({ held, marked: [], unmarked: [], terminated: [], failed: [] });
    expect(warnings).toContainEqual({
      message: 'reap held',
      fields: { fleet: 'batch', reason: held, stale: 5, judged: 6 },
    });
    expect(emulator().sent('TerminateInstances')).toHaveLength(0);
    const running = await world.instances({ tag: 'worker-fleet:fleet', value: 'batch' });
    expect(running.filter((instance) => instance.State?.Name === 'running')).toHaveLength(6);
  });
});

describe('Lifecycle', () => {
  it('F15: replace-early retires the at-risk worker a bounded delay after its replacement runs, and replaces it once, with the default schedules', async () => {
    // No drain grace: the row is about when the retirement happens (the drain has rows of its own, F45-F48).
    const spec = fleets({ rebalance: 'replace-early', rebalanceRetireAfterMinutes: 2, drainGraceMinutes: 0 });
    const worker = await oneWorker(spec);
    const early = await handleInstanceEvent(world.interruptionDeps(spec), rebalance(worker.instanceId));
    await listed();
    const stateOf = async () =>
      (await world.instances({ tag: TAG.triggerId, value: 'setup' }))[0]?.State?.Name;

    // What the retire schedule sends, on by default (the reap schedule, idle judging, is off by default).
    await reapIdleWorkers(world.reapDeps(spec, later(60_000)), { retireOnly: true });
    const soon = await stateOf();
    const [due] = await reapIdleWorkers(world.reapDeps(spec, later(3 * 60_000)), { retireOnly: true });
    const after = await stateOf();
    const [tick] = await launchWorkers(world.deps(spec), { kind: 'schedule', id: 'tick-1' });

    expect(early).toMatchObject({ status: 'replaced', replacement: { status: 'launched' } });
    expect(soon).toBe('running');
    expect(due?.terminated.map((retired) => retired.instanceId)).toEqual([worker.instanceId]);
    expect(after).toMatch(/shutting-down|terminated/);
    expect(tick?.launched).toEqual([]);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    expect(await runningIn('batch')).toHaveLength(1);
  });

  it('F16: a spot worker a person terminated gets no replacement of its own, one EC2 reclaimed does; the fleet is refilled to its size either way', async () => {
    const [byPerson, byEc2] = await launched(fleets({ targetCapacity: 2 }));
    if (byPerson === undefined || byEc2 === undefined) throw new Error('two workers');
    await world.ec2.send(
      new TerminateInstancesCommand({ InstanceIds: [byPerson.instanceId, byEc2.instanceId] }),
    );
    emulator().reclaimed.add(byEc2.instanceId);
    const deps = world.interruptionDeps(fleets({ targetCapacity: 2 }));

    const person = await handleInstanceEvent(deps, stateChange(byPerson.instanceId, 'terminated'));
    const reclaimed = await handleInstanceEvent(deps, stateChange(byEc2.instanceId, 'terminated'));

    expect(person).toMatchObject({ status: 'observed', reason: expect.stringContaining('by a person') });
    expect(reclaimed).toMatchObject({ status: 'replaced' });
    expect(await replacementsOf(byPerson.instanceId)).toHaveLength(0);
    expect(await replacementsOf(byEc2.instanceId)).toHaveLength(1);
    // As Auto Scaling does: the next pass refills the fleet's size, the person's worker's slot included.
    await launchWorkers(world.deps(fleets({ targetCapacity: 2 })), { kind: 'reconcile', id: 'tick' });
    expect(await runningIn('batch')).toHaveLength(2);
    expect((await world.state.readFacts('batch', new Date())).size?.desired).toBe(2);
  });
});

describe('Planned retirement (#28)', () => {
  let retiring: ReturnType<typeof retiringFleet>;
  beforeEach(() => {
    retiring = retiringFleet(world, emulator);
  });
  afterEach(async () => {
    await retiring.stop();
  });

  it('F79: an operator drain over the worker’s expired retirement item (DynamoDB sweeps it days late, the emulator never) is recorded and starts', async () => {
    const spec = retiring.fleets();
    const [worker = ''] = await retiring.launch(spec, 1);
    await listed();
    const [instance] = (await world.instances()).filter((candidate) => candidate.InstanceId === worker);
    const pool = { instanceType: instance?.InstanceType ?? 'c7g.large', subnetId: instance?.SubnetId ?? '' };
    // Asked for three days ago: expired a day ago, read as absent.
    const old = retirementOf(
      { instanceId: worker, ...pool },
      'max-lifetime',
      new Date(Date.now() - 3 * 86_400_000),
    );
    expect(await world.state.addRetirement('batch', old)).toBe(true);
    expect((await world.state.readFacts('batch', new Date())).retirements?.[worker]).toBeUndefined();

    const result = await drainWorker(
      world.reapDeps(spec, () => new Date()),
      worker,
      { shrink: true },
    );

    expect(result.status).toBe('draining');
    expect((await world.state.readFacts('batch', new Date())).retirements?.[worker]).toMatchObject({
      reason: 'operator-drain',
    });
  });

  it('F80: a reaper run that dies after lowering the size for an idle worker, before recording its retirement: the next run retires it, the size lowered once in all', async () => {
    const spec = retiring.fleets();
    const [worker = ''] = await retiring.launch(spec, 1);
    await listed();
    await retiring.writeHeartbeat(worker, 'idle');
    const [marking] = await reapIdleWorkers(world.reapDeps(spec, retiring.minutesFromNow(1)));
    expect(marking?.marked.map((marked) => marked.instanceId)).toEqual([worker]);

    await retiring.writeHeartbeat(worker, 'idle');
    const dies = world.reapDeps(spec, retiring.minutesFromNow(12));
    const state: FleetState = {
      ...dies.state,
      commit: async (lease, changes) => {
        if (changes.length > 0) throw new Error('the run died here (Lambda timeout)');
        return dies.state.commit(lease, changes);
      },
    };
    await expect(reapIdleWorkers({ ...dies, state })).rejects.toThrow('the run died here');
    await retiring.writeHeartbeat(worker, 'idle');
    const [due] = await reapIdleWorkers(world.reapDeps(spec, retiring.minutesFromNow(13)));

    expect(due?.draining).toEqual([worker]);
    const { requests } = await world.state.readFacts('batch', new Date());
    const shrink = requests
      .filter((request) => request.kind === 'reap')
      .reduce((total, request) => total + (request.shrink ?? 0), 0);
    expect(shrink).toBe(1);
  });

  it('F45: a reaper frozen between the drain request and the termination: the next run terminates the worker once it reports drained; its hook ran once', async () => {
    const spec = retiring.fleets();
    const [worker = ''] = await retiring.launch(spec, 1);
    await retiring.startAgents([worker]);
    await retiring.markIdle([worker], new Date(Date.now() - 30 * 60_000));
    await listed();
    // The run records the drain request, tags the worker, then freezes before anything else (its lease expires).
    emulator().faults.push({
      action: 'CreateTags',
      when: (_params, { body }) => body.includes(encodeURIComponent(TAG.drainRequestedAt)),
      code: 'Frozen',
      freeze: true,
      times: 1,
    });
    reapIdleWorkers(world.reapDeps(spec, retiring.minutesFromNow(1))).catch(() => undefined);
    await emulator().nextFrozen();

    const runsBefore = await retiring.reapUntilTerminated(spec, worker, retiring.minutesFromNow(7));

    expect(runsBefore).toBe(1);
    expect(await retiring.stateOf(worker)).toMatch(/shutting-down|terminated/);
  });

  it('F46: a worker whose drained heartbeat never comes (its agent is gone) is terminated when its drain grace ends, not before', async () => {
    const spec = retiring.fleets();
    const [worker = ''] = await retiring.launch(spec, 1);
    await retiring.writeHeartbeat(worker, 'idle');
    await retiring.markIdle([worker], new Date(Date.now() - 30 * 60_000));
    await listed();

    const [asked] = await reapIdleWorkers(world.reapDeps(spec, retiring.minutesFromNow(1)));
    const [inside] = await reapIdleWorkers(world.reapDeps(spec, retiring.minutesFromNow(10)), {
      retireOnly: true,
    });
    const [after] = await reapIdleWorkers(world.reapDeps(spec, retiring.minutesFromNow(11)), {
      retireOnly: true,
    });

    expect(asked?.draining).toEqual([worker]);
    expect(inside?.terminated).toEqual([]);
    expect(inside?.waiting).toEqual([{ instanceId: worker, why: 'draining' }]);
    expect(after?.terminated.map((retired) => retired.instanceId)).toEqual([worker]);
    expect(after?.terminated[0]?.explanation).toMatch(/drain grace is over|idle:/);
    expect(await retiring.stateOf(worker)).toMatch(/shutting-down|terminated/);
  });

  /** 20 on-demand workers whose max lifetime is an hour (past it on a clock an hour ahead), retired at once when due. */
  const pastLifetime = (disruption: Record<string, unknown>) =>
    fleets({
      targetCapacity: 20,
      maxCapacity: 20,
      drainGraceMinutes: 0,
      disruption,
      idle: {
        heartbeatTimeoutMinutes: 120,
        bootGraceMinutes: 0,
        terminateAfterMinutes: 10,
        maxLifetimeHours: 1,
        minWorkers: 0,
      },
    });

  it('F48: a 20-worker fleet past its max lifetime with a budget of 2: retired two at a time, each replaced first, the next two once those are gone; a spot warning meanwhile is handled at once', async () => {
    const spec = pastLifetime({ budget: 2 });
    const workers = await launched(spec);
    const later = () => new Date(Date.now() + 61 * 60_000);
    const ids = workers.map((worker) => worker.instanceId);
    const warned = ids.at(-1) ?? '';

    const [first] = await reapIdleWorkers(world.reapDeps(spec, later));
    const [again] = await reapIdleWorkers(world.reapDeps(spec, later));
    const warning = await handleInstanceEvent(world.interruptionDeps(spec), instanceEvents.warning(warned));
    await launchWorkers(world.deps(spec), { kind: 'reconcile', id: 'tick-1' });
    await listed();
    const [second] = await reapIdleWorkers(world.reapDeps(spec, later));
    const [third] = await reapIdleWorkers(world.reapDeps(spec, later));

    expect(first?.replacing).toHaveLength(2);
    expect(first?.terminated).toEqual([]);
    expect(again?.replacing).toEqual([]);
    expect((again?.waiting ?? []).filter((entry) => entry.why.startsWith('its replacement'))).toHaveLength(2);
    expect((again?.waiting ?? []).filter((entry) => entry.why.startsWith('disruption budget'))).toEqual([]);
    expect(warning).toMatchObject({ status: 'replaced' });
    expect(second?.terminated.map((worker) => worker.instanceId).sort()).toEqual(
      [...(first?.replacing ?? [])].sort(),
    );
    expect(third?.replacing).toHaveLength(2);
    const retirements = (await world.stateKeys()).filter((key) => key.includes(' retirement#'));
    expect(retirements.length).toBeLessThanOrEqual(4);
  });

  it('F77: a 20-worker fleet past its max lifetime, a budget of 2 and a window closed now: nothing of it starts until the window opens, then two at a time; idle reaping does not wait but keeps to the budget; a spot warning does not wait', async () => {
    const spec = pastLifetime({ budget: 2 });
    // 17 workers, then (later by more than the emulator's clock step) 3 more, idle and marked half an hour before the
    // first run, whose clock is just past the 17's max lifetime and not yet the 3's.
    const old = await launchBatch(world, spec, 17, 'old');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const idle = (await launchBatch(world, spec, 20, 'young')).filter((id) => !old.includes(id));
    await listed();
    const launchTimes = (await world.instances({ tag: TAG.fleet, value: 'batch' })).flatMap((instance) =>
      old.includes(instance.InstanceId ?? '') ? [instance.LaunchTime?.getTime() ?? 0] : [],
    );
    const closedAt = new Date(Math.max(...launchTimes) + 3_600_000 + 500);
    // The window opens every day for an hour, at an hour that is not the first run's; the second run's clock is in it.
    const hour = (closedAt.getUTCHours() + 3) % 24;
    const fleet = pastLifetime({ budget: 2, windows: [{ cron: `0 ${hour} * * *`, durationMinutes: 60 }] });
    const opensAt = new Date(closedAt.getTime() + 24 * 3600_000);
    opensAt.setUTCHours(hour, 10, 0, 0);
    for (const id of [...old, ...idle])
      await retiring.writeHeartbeat(id, idle.includes(id) ? 'idle' : 'busy');
    await retiring.markIdle(idle, new Date(closedAt.getTime() - 30 * 60_000));
    const warned = old.at(-1) ?? '';

    const [closed] = await reapIdleWorkers(world.reapDeps(fleet, () => closedAt));
    const startedWhileClosed = (await world.stateKeys()).filter((key) => key.includes(' retirement#'));
    const warning = await handleInstanceEvent(world.interruptionDeps(fleet), instanceEvents.warning(warned));
    const [open] = await reapIdleWorkers(world.reapDeps(fleet, () => opensAt));

    expect(idle).toHaveLength(3);
    expect(closed).toMatchObject({ replacing: [], draining: [] });
    expect(closed?.terminated).toHaveLength(2);
    for (const { instanceId } of closed?.terminated ?? []) expect(idle).toContain(instanceId);
    expect(startedWhileClosed).toHaveLength(2);
    expect(warning).toMatchObject({ status: 'replaced' });
    expect(open?.replacing).toHaveLength(2);
  });

  it('F47: two reaper runs at once against one budget of 2: never more than 2 retirements under way', async () => {
    // Run A's clock is just before the oldest worker's max lifetime, run B's just after. Alone, A would start the
    // two idle workers' retirements, B the oldest's and one idle worker's: unserialised, 3 would be under way.
    const spec = retiring.fleets(
      { targetCapacity: 4, maxCapacity: 4, disruption: { budget: 2 } },
      { maxLifetimeHours: 1, heartbeatTimeoutMinutes: 120, minWorkers: 0 },
    );
    const [oldest = ''] = await retiring.launch(spec, 1, 'oldest');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [, idleA = '', idleB = '', busy = ''] = await retiring.launch(spec, 4, 'rest');
    const [instance] = (await world.instances()).filter((candidate) => candidate.InstanceId === oldest);
    const crossing = (instance?.LaunchTime?.getTime() ?? 0) + 3_600_000;
    for (const id of [oldest, busy]) await retiring.writeHeartbeat(id, 'busy');
    for (const id of [idleA, idleB]) await retiring.writeHeartbeat(id, 'idle');
    await retiring.markIdle([idleA, idleB], new Date(crossing - 30 * 60_000));
    const at = (ms: number) => () => new Date(ms);
    await listed();

    await Promise.all([
      reapIdleWorkers(world.reapDeps(spec, at(crossing - 500))),
      reapIdleWorkers(world.reapDeps(spec, at(crossing + 500))),
    ]);

    const retirements = (await world.stateKeys()).filter((key) => key.includes(' retirement#'));
    expect(retirements).toHaveLength(2);
  });
});

describe('Events as AWS sends them', () => {
  it('F17: an EC2 event from another region changes nothing here, and says so', async () => {
    const worker = await oneWorker();
    emulator().requests.length = 0;

    const result = await handleInstanceEvent(
      world.interruptionDeps(fleets()),
      warning(worker.instanceId, 'terminate', 'eu-west-1'),
    );

    expect(result).toMatchObject({ status: 'other-region', reason: expect.stringContaining('eu-west-1') });
    expect(emulator().requests).toEqual([]);
    expect(await kinds()).toEqual(['launch']);
  });

  it.each(['hibernate', 'stop'])(
    'F18: a %s warning claims no two-minute lead in its notification or Worker Draining',
    async (action) => {
      const worker = await oneWorker();
      const event = warning(worker.instanceId, action);

      await handleInstanceEvent(world.interruptionDeps(fleets()), event);

      const notification = (await world.notifications()).find((n) => n.kind === 'spot-interruption');
      expect(notification?.body).toMatchObject({ action, deadline: event.time.toISOString() });
      expect(notification?.subject).toContain(`(${action} now)`);
      const [draining] = await world.drainingEvents();
      expect(draining).toMatchObject({ action, deadline: event.time.toISOString() });
    },
  );
});

describe('Notifications once: the topic and the bus are steps of their own (#26)', () => {
  const failOnce = (detailType: string): Fault => ({
    action: 'PutEvents',
    when: eventPut(detailType),
    code: 'InternalError',
    status: 500,
    times: 1,
  });
  const ONE_OF_EACH = {
    'Fleet Spot Interruption': 1,
    'Fleet Worker Replacement': 1,
    'Worker Draining': 1,
  };

  it.each([
    [
      "F37: the replacement's event put fails once (F3's companion): the retry puts it, and publishes no second replacement message; counted",
      'Fleet Worker Replacement',
    ],
    [
      "F38: the warning's Fleet Spot Interruption put fails once (F4's companion): the retry puts it as its own step, never the SNS message again; counted",
      'Fleet Spot Interruption',
    ],
  ])('%s', async (_row, detailType) => {
    const { worker } = await warnThroughAFailure(failOnce(detailType));

    const sent = await kinds();
    expect(count(sent, 'replacement')).toBe(1);
    expect(count(sent, 'spot-interruption')).toBe(1);
    expect(await eventCounts()).toMatchObject(ONE_OF_EACH);
    expect(world.metrics.sum('NotificationEventsFailed', { fleet: 'batch' })).toBe(1);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
  });

  it.each([
    [
      'before its notice is sent (the SNS message frozen)',
      { action: 'Publish', when: (params: URLSearchParams) => [...params.values()].includes('replacement') },
    ],
    [
      'after its notice is sent and recorded (its event put frozen)',
      { action: 'PutEvents', when: eventPut('Fleet Worker Replacement') },
    ],
  ])(
    'F39: a delivery frozen after the replacement is recorded, %s: the retry sends the notice exactly once, and its event once',
    async (_when, fault) => {
      const worker = await oneWorker();
      await freezeDuring(
        () => handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
        fault,
      );

      const retry = await handleInstanceEvent(
        world.interruptionDeps(fleets(), later(LEASE_TTL_MS + 30_000)),
        warning(worker.instanceId),
      );

      expect(retry.status).not.toBe('not-ours');
      // The warning's own steps were done and, the delivery dead before it settled, unrecorded: the retry repeats
      // them (at least once, docs/interruptions.md). The replacement's notice is recorded step by step.
      expect(count(await kinds(), 'replacement')).toBe(1);
      expect((await eventCounts())['Fleet Worker Replacement']).toBe(1);
      expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    },
  );
});

describe('Orphans and a container without its configuration (#26)', () => {
  /** The fleets after `batch` was removed from the configuration: another fleet stays. */
  const withoutBatch = () => ({ nightly: spotFleet(world).batch });
  const forgetRegistry = (instanceId: string) =>
    world.dynamodb.send(
      new DeleteItemCommand({
        TableName: world.stateTable,
        Key: { pk: { S: `worker#${instanceId}` }, sk: { S: 'registry' } },
      }),
    );

  it.each([
    ['its registry record', false],
    ['its tags alone (no registry record)', true],
  ])(
    'F40: a warning of a worker whose fleet is no longer configured is notified from %s, once, as an orphan; it is marked and nothing replaces it',
    async (_from, forget) => {
      const worker = await oneWorker();
      if (forget) await forgetRegistry(worker.instanceId);

      const result = await handleInstanceEvent(
        world.interruptionDeps(withoutBatch()),
        warning(worker.instanceId),
      );
      const again = await handleInstanceEvent(
        world.interruptionDeps(withoutBatch()),
        warning(worker.instanceId),
      );

      expect(result).toMatchObject({
        status: 'notified',
        fleet: 'batch',
        reason: expect.stringContaining('orphan'),
      });
      expect(again.status).toBe('duplicate');
      const notices = (await world.notifications()).filter((n) => n.kind === 'spot-interruption');
      expect(notices).toHaveLength(1);
      expect(notices[0]?.body).toMatchObject({ instanceId: worker.instanceId, fleet: 'batch', orphan: true });
      expect(notices[0]?.subject).toContain('(orphan)');
      expect(await eventCounts()).toMatchObject({ 'Fleet Spot Interruption': 1, 'Worker Draining': 1 });
      const [marked] = await world.instances({ tag: TAG.interruption, value: 'terminate' });
      expect(marked?.InstanceId).toBe(worker.instanceId);
      expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
      expect((await world.stateKeys()).filter((key) => key.includes('replacement#'))).toEqual([]);
    },
  );

  it('F41: a container without a readable configuration notifies and marks a warning, fails everything else clearly, and counts it; the retry with it replaces, notifying nothing twice', async () => {
    const spec = fleets();
    const worker = await oneWorker(spec);
    await world.s3.send(
      new PutObjectCommand({
        Bucket: world.stateBucket,
        Key: FLEET_CONFIG_KEY,
        Body: JSON.stringify({ batch: { ...spec.batch, market: 'cheapest' } }),
      }),
    );
    const container = await newContainer();
    const { handler } = await container.load(() => import('../../src/handlers/spot-interruption'));
    const emf = container.emf;
    const context = lambdaContext('worker-fleet-test-handleSpotInterruption', 30_000);
    const raw = (detailType: string, id: string, detail: Record<string, unknown> = {}) => ({
      version: '0',
      id,
      'detail-type': detailType,
      source: 'aws.ec2',
      time: new Date().toISOString(),
      detail: { 'instance-id': worker.instanceId, ...detail },
    });
    const warned = raw('EC2 Spot Instance Interruption Warning', 'warning-unconfigured', {
      'instance-action': 'terminate',
    });

    // The error of the handler's own module copy (a container of its own): by name.
    await expect(handler(warned, context)).rejects.toMatchObject({ name: FleetConfigError.name });
    await expect(
      handler(raw('EC2 Instance Rebalance Recommendation', 'rebalance-unconfigured'), context),
    ).rejects.toThrow(/fleet configuration is invalid/);

    expect(count(await kinds(), 'spot-interruption')).toBe(1);
    expect(count(await kinds(), 'rebalance-recommendation')).toBe(0);
    expect(await eventCounts()).toMatchObject({ 'Fleet Spot Interruption': 1, 'Worker Draining': 1 });
    expect(await replacementsOf(worker.instanceId)).toHaveLength(0);
    expect(
      emf.filter((document) => document.fleet === 'none').map((document) => document.ConfigurationUnreadable),
    ).toEqual([1, 1]);

    await world.storeFleets(spec);
    await handler(warned, context);

    expect(count(await kinds(), 'spot-interruption')).toBe(1);
    expect(await eventCounts()).toMatchObject({ 'Fleet Spot Interruption': 1, 'Worker Draining': 1 });
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
    container.end();
  });

  it('F74: a launcher and a reaper container without a readable configuration fail each trigger clearly, launch and terminate nothing, and count it', async () => {
    const spec = fleets({ targetCapacity: 2 });
    await oneWorker(spec);
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.stateBucket, Key: FLEET_CONFIG_KEY, Body: '{"batch": ' }),
    );
    const container = await newContainer();
    const launcher = await container.load(() => import('../../src/handlers/launch-workers'));
    const reaper = await container.load(() => import('../../src/handlers/reap-idle-workers'));
    const launchesBefore = emulator().sent('RunInstances').length;

    await expect(
      launcher.handler({ reconcile: true }, lambdaContext('worker-fleet-test-launchWorkers', 60_000)),
    ).rejects.toMatchObject({ name: FleetConfigError.name });
    await expect(
      reaper.handler({ dryRun: false }, lambdaContext('worker-fleet-test-reapIdleWorkers', 300_000)),
    ).rejects.toMatchObject({ name: FleetConfigError.name });

    expect(emulator().sent('RunInstances')).toHaveLength(launchesBefore);
    expect(emulator().sent('TerminateInstances')).toHaveLength(0);
    expect(
      container.emf
        .filter((document) => document.fleet === 'none')
        .map((document) => document.ConfigurationUnreadable),
    ).toEqual([1, 1]);
    container.end();
  });
});

/**
 * A function container of its own: the deployment's environment, handler modules loaded afresh (no configuration
 * read before), and the metrics they emit (Powertools' EMF lines) kept. `end` puts the test's environment back.
 */
async function newContainer() {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emulator().endpoint,
    ...world.env(),
    // The tests run Powertools in dev mode, which turns metrics off unless told otherwise.
    POWERTOOLS_METRICS_DISABLED: 'false',
  });
  const emf: Record<string, unknown>[] = [];
  const logged = jest.spyOn(console, 'log').mockImplementation((line: unknown) => {
    if (typeof line === 'string' && line.includes('"_aws"')) emf.push(JSON.parse(line));
  });
  return {
    emf,
    async load<T>(load: () => Promise<T>): Promise<T> {
      let loaded: T | undefined;
      await jest.isolateModulesAsync(async () => {
        loaded = await load();
      });
      if (loaded === undefined) throw new Error('handler module not loaded');
      return loaded;
    },
    end() {
      logged.mockRestore();
      process.env = saved;
    },
  };
}
