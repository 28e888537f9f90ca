/**
 * The fault matrix (issue 17): each row injects the fault that would break a promise — a delivery frozen after a
 * step as a Lambda timeout leaves it, a retry, concurrent deliveries, a throttled or failing call, a shifted clock —
 * and proves the outcome against the emulator.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateTagsCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Fault } from '../../local/emulator';
import { CLAIM_TTL_MS } from '../../src/fleet/interruption-notice';
import { FleetLaunchError, launchWorkers } from '../../src/fleet/launch-workers';
import { poolMemoryOf } from '../../src/fleet/pool-memory';
import { REAP_LEASE_TTL_MS, reapIdleWorkers } from '../../src/fleet/reap-idle-workers';
import { LEASE_TTL_MS, SLOT_BUDGET_MS } from '../../src/fleet/reconcile-fleet';
import { recordPoolEvents } from '../../src/fleet/record-pool-events';
import { handleInstanceEvent } from '../../src/fleet/spot-interruption';
import { logger } from '../../src/logger';
import { FenceLostError, type FleetState } from '../../src/model/fleet-state';
import { heartbeatKey } from '../../src/model/heartbeat';
import { type PoolMemory, placementKey } from '../../src/model/pool';
import { TAG } from '../../src/model/tags';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { retiringFleet } from './retiring-fleet';
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
const replacementsOf = (instanceId: string) => world.instances({ tag: TAG.replaces, value: instanceId });
const runningIn = async (fleet: string) =>
  (await world.instances({ tag: TAG.fleet, value: fleet })).filter(
    (instance) => instance.State?.Name === 'pending' || instance.State?.Name === 'running',
  );

/** Starts a delivery and waits until the emulator froze its next matching request: the invocation is dead. */
async function freezeDuring(delivery: () => Promise<unknown>, fault: Omit<Fault, 'code' | 'freeze'>) {
  emulator().faults.push({ ...fault, code: 'Frozen', freeze: true, times: 1 });
  delivery().catch(() => undefined);
  return emulator().nextFrozen();
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
    expect(count(await kinds(), 'spot-interruption')).toBe(1);
    expect(await world.drainingEvents()).toHaveLength(1);
    const [marked] = await world.instances({ tag: TAG.interruption, value: 'terminate' });
    expect(marked?.InstanceId).toBe(worker.instanceId);
    expect(await replacementsOf(worker.instanceId)).toHaveLength(1);
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
    ['PutEvents', { action: 'PutEvents' }],
  ] as const)(
    'F4: %s fails once: the retry does only what is missing, counted once, Worker Draining once',
    async (_name, fault) => {
      const worker = await oneWorker();
      emulator().faults.push({ ...fault, code: 'InternalError', status: 500, times: 1 });
      await expect(
        handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId)),
      ).rejects.toThrow();

      await handleInstanceEvent(world.interruptionDeps(fleets()), warning(worker.instanceId));

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
    const replacements = (await world.instances()).filter(
      (instance) => instance.Tags?.some((tag) => tag.Key === TAG.replaces) === true,
    );
    const replaced = replacements.map(
      (instance) => instance.Tags?.find((tag) => tag.Key === TAG.replaces)?.Value,
    );
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

  /** The last heartbeat a worker's agent wrote: the status word alone, as the agent writes it. */
  const lastHeartbeat = (instanceId: string, status: string) =>
    world.s3.send(
      new PutObjectCommand({
        Bucket: world.fleetBucket,
        Key: heartbeatKey(world.workerRoleId, instanceId),
        Body: status,
      }),
    );

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

  it('F16: a spot worker a person terminated is not replaced; one EC2 reclaimed is', async () => {
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

  it('F48: a 20-worker fleet past its max lifetime with a budget of 2: retired two at a time, each replaced first, the next two once those are gone; a spot warning meanwhile is handled at once', async () => {
    const spec = fleets({
      targetCapacity: 20,
      maxCapacity: 20,
      drainGraceMinutes: 0,
      disruption: { budget: 2 },
      idle: {
        heartbeatTimeoutMinutes: 120,
        bootGraceMinutes: 0,
        terminateAfterMinutes: 10,
        maxLifetimeHours: 1,
        minWorkers: 0,
      },
    });
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
