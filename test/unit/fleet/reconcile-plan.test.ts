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

  it('caps the size at maxCapacity and says so', () => {
    expect(plan([], { requests: [request('r-1', { target: 9 })] })).toMatchObject({
      desired: 4,
      capped: true,
      grow: 4,
    });
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

  it('launches no second replacement for a worker a running instance replaces, and records it launched', () => {
    const workers = [interrupted('i-1'), replacing('i-9', 'i-1')];

    expect(plan(workers, { desired: 1, replacements: { 'i-1': fact() } })).toMatchObject({
      replacements: [],
      satisfied: [{ instanceId: 'i-1', by: ['i-9'] }],
      grow: 0,
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
