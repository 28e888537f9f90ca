import { IN_FLIGHT_MS, planReconcile } from '../../../src/fleet/reconcile-plan';
import type {
  FleetFacts,
  LaunchIntent,
  ReplacementFact,
  SizeRequest,
  SizeRequestKind,
} from '../../../src/model/fleet-state';
import { TAG } from '../../../src/model/tags';
import { REPLACEMENT_BATCH, replacesTag, type Worker } from '../../../src/model/worker';
import { workerWith } from '../fixtures';

const now = new Date('2026-11-27T12:00:00Z');
const spec = { targetCapacity: 2, maxCapacity: 4, subnets: ['subnet-a', 'subnet-b'] };
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();

const worker = (id: string, tags: Record<string, string> = {}, state = 'running') =>
  workerWith({ instanceId: id, tags, state });

const interrupted = (id: string) => worker(id, { [TAG.interruptedAt]: minutesAgo(1) });
const replacing = (id: string, of: string) => worker(id, { [TAG.replaces]: of });
const request = (id: string, ask: { target?: number; count?: number }): SizeRequest => ({
  id,
  kind: 'event',
  at: minutesAgo(0),
  ...ask,
});
const fact = (overrides: Partial<ReplacementFact> = {}): ReplacementFact => ({
  instanceId: 'i-1',
  cause: 'spot-interruption',
  correlationId: 'warning-1',
  pool: { instanceType: 'c7g.large', subnetId: 'subnet-a' },
  at: minutesAgo(1),
  status: 'pending',
  ...overrides,
});
/** The facts a pass reads, written as the tests think of them. */
interface Record_ {
  readonly desired?: number;
  readonly desiredBy?: { id: string; kind: SizeRequestKind };
  readonly targetAt?: string;
  readonly target?: number;
  readonly requests?: readonly SizeRequest[];
  readonly replacements?: Readonly<Record<string, Partial<ReplacementFact>>>;
  readonly intents?: readonly LaunchIntent[];
  readonly unreadable?: readonly string[];
}
const factsOf = (record: Record_): FleetFacts => ({
  ...(record.desired === undefined
    ? {}
    : {
        size: {
          desired: record.desired,
          ...(record.desiredBy ? { desiredBy: record.desiredBy } : {}),
          ...(record.targetAt ? { targetAt: record.targetAt } : {}),
          ...(record.target === undefined ? {} : { target: record.target }),
        },
      }),
  requests: record.requests ?? [],
  replacements: Object.fromEntries(
    Object.entries(record.replacements ?? {}).map(([id, given]) => [
      id,
      { ...fact(), ...given, instanceId: id },
    ]),
  ),
  intents: record.intents ?? [],
  unreadable: record.unreadable ?? [],
});
const plan = (workers: Worker[], record: Record_ = {}, at = now, specChanges: Partial<typeof spec> = {}) =>
  planReconcile({ ...spec, ...specChanges }, workers, factsOf(record), at);
const replaced = (result: ReturnType<typeof plan>) =>
  result.replacements.flatMap((launch) => launch.replaces ?? []);

describe('planReconcile: the size a fleet should have', () => {
  it('launches nothing while no trigger ever asked for a size', () => {
    expect(plan([])).toMatchObject({ desired: undefined, grow: 0, active: 0 });
  });

  it('grows to the target a request asked for', () => {
    expect(plan([worker('i-1')], { requests: [request('r-1', { target: 3 })] })).toMatchObject({
      desired: 3,
      grow: 2,
      applied: [expect.objectContaining({ id: 'r-1' })],
    });
  });

  it('adds a count to the workers that count, and a later count to what the earlier one asked', () => {
    const record = { desired: 1, requests: [request('r-1', { count: 1 }), request('r-2', { count: 1 })] };

    expect(plan([worker('i-1'), worker('i-2')], record)).toMatchObject({ desired: 4, grow: 2 });
  });

  it('lowers the size by a shrink request, never below its floor', () => {
    const shrink = (n: number, floor: number): SizeRequest => ({
      id: `reap-${n}`,
      kind: 'reap',
      shrink: n,
      floor,
      at: minutesAgo(0),
    });

    expect(plan([], { desired: 4, requests: [shrink(2, 1)] }).desired).toBe(2);
    expect(plan([], { desired: 4, requests: [shrink(5, 1)] }).desired).toBe(1);
  });

  it.each([
    { target: 9, capped: true },
    { target: 4, capped: false },
  ])(
    'caps the size at maxCapacity and says so only when it had to (target $target)',
    ({ target, capped }) => {
      expect(plan([], { requests: [request('r-1', { target })] })).toMatchObject({
        desired: 4,
        capped,
        grow: 4,
      });
    },
  );

  it('counts a pending worker as capacity, as a running one', () => {
    expect(plan([worker('i-1', {}, 'pending'), worker('i-2')], { desired: 2 })).toMatchObject({
      active: 2,
      grow: 0,
    });
  });

  it('calls nothing capped while no trigger ever asked', () => {
    expect(plan([worker('i-1')])).toMatchObject({ capped: false });
  });

  it('never shrinks: workers above the size are the reaper’s to judge', () => {
    expect(plan([worker('i-1'), worker('i-2'), worker('i-3')], { desired: 1 })).toMatchObject({ grow: 0 });
  });

  it('counts neither stopped workers nor workers on their way out', () => {
    const workers = [worker('i-1'), worker('i-2', {}, 'stopped'), interrupted('i-3')];

    expect(plan(workers, { desired: 2 })).toMatchObject({ active: 1 });
  });
});

describe('planReconcile: replacements', () => {
  it('replaces a worker with a pending fact, away from its pool, before any growth', () => {
    const result = plan([interrupted('i-1'), worker('i-2')], { desired: 2, replacements: { 'i-1': fact() } });

    expect(result.replacements).toEqual([
      {
        slot: 'replace-i-1',
        count: 1,
        replaces: ['i-1'],
        avoid: ['c7g.large@subnet-a'],
      },
    ]);
    expect(result.grow).toBe(0);
  });

  it('leaves the slot of an interrupted worker whose fact is on its way to that fact, not to growth', () => {
    expect(plan([interrupted('i-1'), worker('i-2')], { desired: 2 })).toMatchObject({ grow: 0, active: 1 });
  });

  it('counts a worker with a fact as going even before its tags are on', () => {
    expect(
      plan([worker('i-1'), worker('i-2')], { desired: 2, replacements: { 'i-1': fact() } }),
    ).toMatchObject({
      active: 1,
      grow: 0,
      replacements: [expect.objectContaining({ replaces: ['i-1'] })],
    });
  });

  it('launches no second replacement for a worker a running instance replaces, records it launched, and grows past it', () => {
    const workers = [interrupted('i-1'), replacing('i-9', 'i-1')];

    expect(plan(workers, { desired: 2, replacements: { 'i-1': fact() } })).toMatchObject({
      replacements: [],
      satisfied: [{ instanceId: 'i-1', by: ['i-9'] }],
      grow: 1,
    });
  });

  it('replaces once: a fact already launched is never launched again, even when its replacement is gone', () => {
    expect(plan([], { replacements: { 'i-1': fact({ status: 'notified' }) } })).toMatchObject({
      replacements: [],
      satisfied: [],
    });
  });

  it('keeps replacements waiting that maxCapacity has no room for', () => {
    const full = [worker('i-2'), worker('i-3'), worker('i-4'), worker('i-5')];
    const result = plan([interrupted('i-1'), ...full], { replacements: { 'i-1': fact() } });

    expect(result).toMatchObject({ replacements: [], waiting: ['i-1'], grow: 0 });
  });

  it('replaces the oldest facts first', () => {
    const record = {
      replacements: {
        'i-new': fact({ at: minutesAgo(1) }),
        'i-old': fact({ at: minutesAgo(5) }),
      },
    };

    expect(replaced(plan([], record))).toEqual(['i-old', 'i-new']);
  });
});

describe('planReconcile: replacements of one pool launch together', () => {
  const facts = (ids: readonly string[], pool = { instanceType: 'c7g.large', subnetId: 'subnet-a' }) =>
    Object.fromEntries(
      ids.map((id, index) => [id, fact({ instanceId: id, pool, at: minutesAgo(60 - index) })]),
    );
  const many = (count: number) => Array.from({ length: count }, (_, index) => `i-${100 + index}`);

  it('replaces the workers of one pool in one launch, oldest first, named after the first', () => {
    const result = plan([], { replacements: facts(['i-1', 'i-2', 'i-3']) }, now, { maxCapacity: 10 });

    expect(result.replacements).toEqual([
      { slot: 'replace-i-1', count: 3, replaces: ['i-1', 'i-2', 'i-3'], avoid: ['c7g.large@subnet-a'] },
    ]);
  });

  it('launches the workers of different pools apart: each avoids its own', () => {
    const result = plan(
      [],
      {
        replacements: {
          ...facts(['i-1', 'i-2']),
          ...facts(['i-3'], { instanceType: 'm7g.large', subnetId: 'subnet-b' }),
        },
      },
      now,
      { maxCapacity: 10 },
    );

    expect(result.replacements.map(({ replaces, avoid }) => ({ replaces, avoid }))).toEqual([
      { replaces: ['i-1', 'i-2'], avoid: ['c7g.large@subnet-a'] },
      { replaces: ['i-3'], avoid: ['m7g.large@subnet-b'] },
    ]);
  });

  it(`launches at most ${REPLACEMENT_BATCH} at once: their ids fit in one tag`, () => {
    const ids = many(REPLACEMENT_BATCH + 1);
    const result = plan([], { replacements: facts(ids) }, now, { maxCapacity: 100 });

    expect(result.replacements.map((launch) => launch.count)).toEqual([REPLACEMENT_BATCH, 1]);
    expect(replaced(result)).toEqual(ids);
    expect(replacesTag(ids.slice(0, REPLACEMENT_BATCH)).length).toBeLessThanOrEqual(256);
  });

  it('takes what room maxCapacity leaves into the launch; the rest wait', () => {
    const result = plan([worker('i-9')], { replacements: facts(['i-1', 'i-2', 'i-3']) }, now, {
      maxCapacity: 3,
    });

    expect(result).toMatchObject({
      replacements: [expect.objectContaining({ count: 2, replaces: ['i-1', 'i-2'] })],
      waiting: ['i-3'],
    });
  });

  it('re-sends a launch that may have been sent whole, even when one of its workers no longer needs it', () => {
    const intent = sentIntent('replace-i-1', 2, { replaces: ['i-1', 'i-2'], avoid: ['c7g.large@subnet-a'] });
    const result = plan(
      [replacing('i-8', 'i-2')],
      { replacements: facts(['i-1', 'i-2']), intents: [intent] },
      now,
      {
        maxCapacity: 10,
      },
    );

    expect(result.replacements).toEqual([expect.objectContaining({ slot: 'replace-i-1', intent, count: 2 })]);
  });

  it('drops an unsent launch whose workers changed, and batches those still waiting afresh with the pools it tried', () => {
    const short: LaunchIntent = {
      slot: 'replace-i-1',
      count: 2,
      replaces: ['i-1', 'i-2'],
      avoid: ['c7g.large@subnet-a', 'm7g.large@subnet-a'],
      status: 'short',
      at: minutesAgo(1),
    };
    const result = plan(
      [replacing('i-8', 'i-1')],
      { replacements: facts(['i-1', 'i-2']), intents: [short] },
      now,
      {
        maxCapacity: 10,
      },
    );

    expect(result.replacements).toEqual([
      {
        slot: 'replace-i-2',
        count: 1,
        replaces: ['i-2'],
        avoid: ['c7g.large@subnet-a', 'm7g.large@subnet-a'],
      },
    ]);
    expect(result.done).toContain('replace-i-1');
    expect(result.satisfied).toEqual([{ instanceId: 'i-1', by: ['i-8'] }]);
  });

  it('knows which instance of an answered launch replaces which worker: the answer is in launch order', () => {
    const answer = answered('replace-i-1', ['i-8', 'i-9'], { replaces: ['i-1', 'i-2'] });
    const result = plan([], { replacements: facts(['i-1', 'i-2']), intents: [answer] }, now, {
      maxCapacity: 10,
    });

    expect(result.satisfied).toEqual([
      { instanceId: 'i-1', by: ['i-8'] },
      { instanceId: 'i-2', by: ['i-9'] },
    ]);
    expect(result.replacements).toEqual([]);
  });
});

describe('planReconcile: the slots growth leaves to replacements', () => {
  it('leaves one slot for each interrupted worker whose fact is on its way', () => {
    expect(plan([interrupted('i-1'), interrupted('i-2')], { desired: 2 })).toMatchObject({
      active: 0,
      grow: 0,
    });
  });

  it('leaves no slot for an interrupted worker a running instance already replaces', () => {
    const workers = [interrupted('i-1'), replacing('i-9', 'i-1')];

    expect(plan(workers, { desired: 2 })).toMatchObject({ active: 1, grow: 1 });
  });

  it('leaves no slot for a fact already launched: growth fills the gap its gone replacement left', () => {
    const workers = [interrupted('i-1'), worker('i-2')];

    expect(
      plan(workers, { desired: 2, replacements: { 'i-1': fact({ status: 'launched' }) } }),
    ).toMatchObject({
      replacements: [],
      grow: 1,
    });
  });

  it('counts a pending replacement as replacing: it is launched once', () => {
    const workers = [interrupted('i-1'), worker('i-9', { [TAG.replaces]: 'i-1' }, 'pending')];

    expect(plan(workers, { desired: 1, replacements: { 'i-1': fact() } })).toMatchObject({
      replacements: [],
      satisfied: [{ instanceId: 'i-1', by: ['i-9'] }],
    });
  });

  it('replaces again a worker whose replacement stopped', () => {
    const workers = [interrupted('i-1'), worker('i-9', { [TAG.replaces]: 'i-1' }, 'stopped')];

    expect(plan(workers, { desired: 1, replacements: { 'i-1': fact() } })).toMatchObject({
      replacements: [expect.objectContaining({ replaces: ['i-1'] })],
      satisfied: [],
    });
  });

  it('launches the replacements maxCapacity has room for and keeps only the rest waiting', () => {
    const workers = [interrupted('i-1'), interrupted('i-2'), worker('i-3'), worker('i-4'), worker('i-5')];
    const record = {
      replacements: { 'i-1': fact({ at: minutesAgo(5) }), 'i-2': fact({ at: minutesAgo(1) }) },
    };

    expect(plan(workers, record)).toMatchObject({
      replacements: [expect.objectContaining({ replaces: ['i-1'] })],
      waiting: ['i-2'],
    });
  });
});

describe('planReconcile: the request that set the size', () => {
  it('names the last request applied, whatever came before it', () => {
    const record = {
      requests: [
        { ...request('r-1', { target: 1 }), kind: 'schedule' as const },
        request('r-2', { target: 2 }),
        { ...request('r-3', { count: 1 }), kind: 'direct' as const },
      ],
    };

    expect(plan([], record).size).toMatchObject({ desired: 3, desiredBy: { id: 'r-3', kind: 'direct' } });
  });

  it('obeys a target only if it happened after the last target applied: out of order, the newer wins', () => {
    const at = (minute: number) => `2026-11-27T12:0${minute}:00.000Z`;
    const target = (id: string, n: number, minute: number): SizeRequest => ({
      id,
      kind: 'event',
      target: n,
      at: at(5),
      eventTime: at(minute),
    });

    // 5 sent at minute 2, 2 sent at minute 1, delivered in that order: 5 stands.
    expect(plan([], { requests: [target('five', 5, 2), target('two', 2, 1)] }).size).toEqual({
      desired: 4,
      desiredBy: { id: 'five', kind: 'event' },
      targetAt: at(2),
      target: 5,
    });
    // A retry of an old target after a newer one was applied changes nothing.
    expect(plan([], { desired: 3, targetAt: at(3), requests: [target('old', 1, 0)] }).desired).toBe(3);
  });

  describe('a launch schedule and idle reaping never undo each other', () => {
    const roomy = { maxCapacity: 20 };
    const tick = (id: string, target: number): SizeRequest => ({
      id,
      kind: 'schedule',
      target,
      at: minutesAgo(0),
    });
    const lowered = { desired: 2, desiredBy: { id: 'reap-1', kind: 'reap' as const }, target: 10 };

    it('a scheduled tick repeating the target after the reaper lowered the size is recorded, not obeyed: the floor holds', () => {
      const result = plan(
        [worker('i-1'), worker('i-2')],
        { ...lowered, requests: [tick('tick-1', 10)] },
        now,
        roomy,
      );

      expect(result).toMatchObject({
        desired: 2,
        grow: 0,
        applied: [expect.objectContaining({ id: 'tick-1' })],
      });
      expect(result.size).toBeUndefined();
    });

    it('the reaper lowering after a tick in the same batch holds too', () => {
      const shrink: SizeRequest = { id: 'reap-2', kind: 'reap', shrink: 3, floor: 2, at: minutesAgo(0) };
      const result = plan(
        [],
        { desired: 10, target: 10, requests: [tick('tick-1', 10), shrink, tick('tick-2', 10)] },
        now,
        roomy,
      );

      expect(result.desired).toBe(7);
    });

    it('a changed target, or any other trigger, raises it again', () => {
      expect(plan([], { ...lowered, requests: [tick('tick-1', 12)] }, now, roomy).desired).toBe(12);
      expect(
        plan([], { ...lowered, requests: [{ ...tick('launch-1', 10), kind: 'event' }] }, now, roomy).desired,
      ).toBe(10);
      expect(
        plan(
          [],
          { ...lowered, requests: [{ id: 'cli-1', kind: 'direct', count: 1, at: minutesAgo(0) }] },
          now,
          roomy,
        ).desired,
      ).toBe(1);
    });

    it('a tick raises a size no reaper lowered', () => {
      expect(
        plan(
          [],
          { desired: 2, desiredBy: { id: 'e-1', kind: 'event' }, target: 10, requests: [tick('tick-1', 10)] },
          now,
          roomy,
        ).desired,
      ).toBe(10);
    });
  });

  it('records no size while nothing changed it', () => {
    expect(plan([], { desired: 1, desiredBy: { id: 'r-1', kind: 'schedule' } }).size).toBeUndefined();
  });
});

const answered = (
  slot: string,
  instanceIds: string[],
  overrides: Partial<LaunchIntent> = {},
): LaunchIntent => ({
  slot,
  count: instanceIds.length,
  avoid: [],
  status: 'answered',
  instanceIds,
  answeredAt: minutesAgo(0),
  at: minutesAgo(0),
  ...overrides,
});
const sentIntent = (slot: string, count: number, overrides: Partial<LaunchIntent> = {}): LaunchIntent => ({
  slot,
  count,
  avoid: [],
  status: 'open',
  attempt: {
    clientToken: `token-${slot}`,
    pool: { instanceType: 'c7g.large', subnetId: 'subnet-a', market: 'spot' },
    input: '{}',
  },
  at: minutesAgo(0),
  ...overrides,
});

describe('planReconcile: in-flight accounting', () => {
  it('counts instances launched but not listed yet as capacity: nothing is launched again', () => {
    const result = plan([worker('i-1')], { desired: 3, intents: [answered('grow-1-0', ['i-2', 'i-3'])] });

    expect(result).toMatchObject({ active: 1, inFlight: 2, grow: 0, growth: [] });
  });

  it('counts in-flight instances against maxCapacity', () => {
    const result = plan([worker('i-1'), worker('i-2')], {
      desired: 8,
      intents: [answered('grow-1-0', ['i-3', 'i-4'])],
    });

    expect(result.grow).toBe(0);
    expect(result.capped).toBe(true);
  });

  it('forgets an intent once its instances are listed', () => {
    const result = plan([worker('i-2')], { desired: 1, intents: [answered('grow-1-0', ['i-2'])] });

    expect(result).toMatchObject({ inFlight: 0, done: ['grow-1-0'] });
  });

  it('stops counting an unlisted instance after IN_FLIGHT_MS: it never came', () => {
    const late = new Date(now.getTime() + IN_FLIGHT_MS + 1);
    const result = plan([], { desired: 1, intents: [answered('grow-1-0', ['i-2'])] }, late);

    expect(result).toMatchObject({ inFlight: 0, done: ['grow-1-0'], grow: 1 });
  });

  it('keeps a replacement in flight as the replacement: the worker is not replaced twice', () => {
    const result = plan([interrupted('i-1')], {
      desired: 1,
      replacements: { 'i-1': {} },
      intents: [answered('replace-i-1', ['i-9'], { replaces: ['i-1'] })],
    });

    expect(result).toMatchObject({
      replacements: [],
      grow: 0,
      satisfied: [{ instanceId: 'i-1', by: ['i-9'] }],
    });
  });
});

describe('planReconcile: write-ahead intents', () => {
  it('re-sends a recorded growth share, whatever the fleet looks like now', () => {
    const intent = sentIntent('grow-7-0', 2);
    const result = plan([], { desired: 2, intents: [intent] });

    expect(result.growth).toEqual([expect.objectContaining({ slot: 'grow-7-0', intent })]);
    expect(result.grow).toBe(2);
  });

  it('re-sends a recorded replacement with its intent', () => {
    const intent = sentIntent('replace-i-1', 1, { replaces: ['i-1'], avoid: ['c7g.large@subnet-a'] });
    const result = plan([interrupted('i-1')], { replacements: { 'i-1': {} }, intents: [intent] });

    expect(result.replacements).toEqual([expect.objectContaining({ slot: 'replace-i-1', intent })]);
  });

  it('drops a share no longer needed that was never sent', () => {
    const unsent: LaunchIntent = {
      slot: 'grow-7-0',
      count: 2,
      avoid: [],
      status: 'short',
      at: minutesAgo(1),
    };
    const result = plan([worker('i-1'), worker('i-2')], { desired: 2, intents: [unsent] });

    expect(result).toMatchObject({ growth: [], done: ['grow-7-0'] });
  });

  it('opens new shares across the subnets for the rest of the gap', () => {
    expect(plan([], { desired: 3 }).growth).toEqual([
      expect.objectContaining({ slot: 'grow-new-0', count: 2, subnetId: 'subnet-a' }),
      expect.objectContaining({ slot: 'grow-new-1', count: 1, subnetId: 'subnet-b' }),
    ]);
  });
});

describe('planReconcile: state that could not be read', () => {
  it('takes the target capacity for a size item that did not parse', () => {
    expect(plan([], { unreadable: ['size'] })).toMatchObject({ desired: 2, size: { desired: 2 } });
  });

  it('rebuilds the fact of an interrupted worker from its tags when replacement items did not parse', () => {
    const result = plan([interrupted('i-1')], { desired: 1, unreadable: ['replacement#i-1'] });

    expect(result.rebuilt).toEqual([expect.objectContaining({ instanceId: 'i-1', status: 'pending' })]);
    expect(replaced(result)).toEqual(['i-1']);
  });
});
