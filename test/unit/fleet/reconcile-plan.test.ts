import {
  type FleetRecord,
  planReconcile,
  type ReplacementFact,
  type SizeRequest,
} from '../../../src/fleet/reconcile-plan';
import { TAG } from '../../../src/model/tags';
import type { Worker } from '../../../src/model/worker';
import { workerWith } from '../fixtures';

const now = new Date('2026-11-27T12:00:00Z');
const spec = { targetCapacity: 2, maxCapacity: 4 };
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
  cause: 'spot-interruption',
  correlationId: 'warning-1',
  pool: { instanceType: 'c7g.large', subnetId: 'subnet-a' },
  at: minutesAgo(1),
  status: 'pending',
  ...overrides,
});
const plan = (workers: Worker[], record: FleetRecord = {}) => planReconcile(spec, workers, record);

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

  it('applies a request once: one already applied asks nothing more', () => {
    const record = { desired: 2, requests: [request('r-1', { count: 2 })], applied: ['r-1'] };

    expect(plan([worker('i-1'), worker('i-2')], record)).toMatchObject({ desired: 2, grow: 0, applied: [] });
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
        instanceId: 'i-1',
        avoid: 'c7g.large@subnet-a',
        correlationId: 'warning-1',
        cause: 'spot-interruption',
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
      replacements: [expect.objectContaining({ instanceId: 'i-1' })],
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

    expect(plan([], record).replacements.map((r) => r.instanceId)).toEqual(['i-old', 'i-new']);
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
      replacements: [expect.objectContaining({ instanceId: 'i-1' })],
      satisfied: [],
    });
  });

  it('launches the replacements maxCapacity has room for and keeps only the rest waiting', () => {
    const workers = [interrupted('i-1'), interrupted('i-2'), worker('i-3'), worker('i-4'), worker('i-5')];
    const record = {
      replacements: { 'i-1': fact({ at: minutesAgo(5) }), 'i-2': fact({ at: minutesAgo(1) }) },
    };

    expect(plan(workers, record)).toMatchObject({
      replacements: [expect.objectContaining({ instanceId: 'i-1' })],
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

    expect(plan([], record).desiredBy).toEqual({ id: 'r-3', kind: 'direct' });
  });

  it('keeps the request that set the size while no new one comes', () => {
    const desiredBy = { id: 'r-1', kind: 'schedule' as const };

    expect(plan([], { desired: 1, desiredBy }).desiredBy).toEqual(desiredBy);
  });

  it('names none while no trigger ever asked', () => {
    expect(plan([]).desiredBy).toBeUndefined();
  });
});

describe('planReconcile: growth’s slot, what its ClientTokens derive from', () => {
  const fleet = [worker('i-1'), worker('i-2')];
  const record = { desired: 3 };

  it('opens the first slot when a fleet first grows', () => {
    expect(plan(fleet, record).growth).toEqual({ seq: 1, basis: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it('has no slot when nothing grows', () => {
    expect(plan(fleet, { desired: 2 }).growth).toBeUndefined();
  });

  it('keeps the slot, told or not, for a retry that observes the same fleet', () => {
    const first = plan(fleet, record).growth;
    const told = { ...first, told: true } as typeof first;

    expect(plan(fleet, { ...record, growth: first }).growth).toEqual(first);
    expect(plan(fleet, { ...record, growth: told }).growth).toEqual(told);
  });

  it('keeps the slot whatever order EC2 lists the workers in', () => {
    const first = plan(fleet, record).growth;

    expect(plan([...fleet].reverse(), { ...record, growth: first }).growth).toEqual(first);
  });

  it('keeps the slot when a worker that is not capacity comes or goes', () => {
    const first = plan(fleet, { desired: 4 }).growth;
    const withOthers = [...fleet, worker('i-3', {}, 'stopped'), interrupted('i-4')];

    expect(plan(withOthers, { desired: 4, growth: first }).growth).toEqual(first);
  });

  it('opens the next slot, not yet told, when the fleet observed changes', () => {
    const first = { seq: 3, basis: 'an-older-fleet', told: true };

    expect(plan(fleet, { ...record, growth: first }).growth).toEqual({
      seq: 4,
      basis: plan(fleet, record).growth?.basis,
    });
  });

  it('derives the slot from which workers count, not only how many', () => {
    const other = [worker('i-7'), worker('i-8')];

    expect(plan(other, record).growth?.basis).not.toBe(plan(fleet, record).growth?.basis);
  });

  it('derives the slot from the size asked for', () => {
    expect(plan(fleet, { desired: 4 }).growth?.basis).not.toBe(plan(fleet, record).growth?.basis);
  });

  it('leaves out of the slot a worker whose fact says it is going, tags or not', () => {
    const going = { ...record, replacements: { 'i-3': fact({ status: 'launched' }) } };

    expect(plan([...fleet, worker('i-3')], going).growth?.basis).toBe(plan(fleet, record).growth?.basis);
  });
});
