import { disruptionBudget, planRetirements, retirementOf } from '../../../src/fleet/retirement-plan';
import type { ReplacementFact, RetirementFact } from '../../../src/model/fleet-state';
import type { Heartbeat } from '../../../src/model/heartbeat';
import { TAG } from '../../../src/model/tags';
import type { Worker } from '../../../src/model/worker';
import { workerWith } from '../fixtures';

const now = new Date('2026-12-05T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
const worker = (id: string, tags: Record<string, string> = {}, state = 'running') =>
  workerWith({ instanceId: id, tags, state, launchTime: minutesAgo(60) });

function plan(
  input: {
    workers?: readonly Worker[];
    retirements?: Record<string, RetirementFact>;
    replacements?: Record<string, ReplacementFact>;
    candidates?: { worker: Worker; reason: RetirementFact['reason'] }[];
    heartbeats?: Map<string, Heartbeat>;
    budget?: number;
    grace?: number;
    windowOpen?: boolean;
  } = {},
) {
  return planRetirements({
    workers: input.workers ?? [],
    facts: { replacements: input.replacements ?? {}, retirements: input.retirements ?? {} },
    candidates: input.candidates ?? [],
    heartbeats: input.heartbeats ?? new Map(),
    budget: input.budget ?? Number.POSITIVE_INFINITY,
    ...(input.windowOpen === undefined ? {} : { windowOpen: input.windowOpen }),
    drainGraceMinutes: input.grace ?? 10,
    now,
  });
}
const stepsOf = (result: ReturnType<typeof plan>) =>
  Object.fromEntries(
    result.steps.map((step) =>
      step.step === 'forget' ? [step.instanceId, 'forget'] : [step.fact.instanceId, step.step],
    ),
  );
const draining = (id: string, reason: RetirementFact['reason'], minutes: number): RetirementFact => ({
  ...retirementOf(worker(id), reason, minutesAgo(minutes)),
  drainRequestedAt: minutesAgo(minutes).toISOString(),
  deadline: new Date(minutesAgo(minutes).getTime() + 10 * 60_000).toISOString(),
});

describe('planRetirements', () => {
  it('drains a worker that is not replaced first at once, with a deadline at the drain grace', () => {
    const idle = worker('i-idle');
    const result = plan({ workers: [idle], candidates: [{ worker: idle, reason: 'idle' }] });

    expect(result.record).toEqual([expect.objectContaining({ instanceId: 'i-idle', replaceFirst: false })]);
    expect(result.steps).toEqual([
      expect.objectContaining({
        step: 'drain',
        fact: expect.objectContaining({
          drainRequestedAt: now.toISOString(),
          deadline: new Date(now.getTime() + 10 * 60_000).toISOString(),
        }),
      }),
    ]);
  });

  it('asks for a replacement first, not avoiding the pool, then waits until it runs, then drains', () => {
    const old = worker('i-old');
    const first = plan({ workers: [old], candidates: [{ worker: old, reason: 'max-lifetime' }] });
    const [step] = first.steps;
    expect(step).toMatchObject({
      step: 'replace',
      replacement: { instanceId: 'i-old', cause: 'retirement', reason: 'max-lifetime', status: 'pending' },
    });
    const fact = first.record[0] as RetirementFact;
    const replacement = step?.step === 'replace' ? step.replacement : ({} as ReplacementFact);

    const pending = worker('i-new', { [TAG.replaces]: 'i-old' }, 'pending');
    const waiting = plan({
      workers: [old, pending],
      retirements: { 'i-old': fact },
      replacements: { 'i-old': replacement },
    });
    const running = plan({
      workers: [old, { ...pending, state: 'running' }],
      retirements: { 'i-old': fact },
      replacements: { 'i-old': replacement },
    });

    expect(stepsOf(waiting)).toEqual({ 'i-old': 'wait' });
    expect(stepsOf(running)).toEqual({ 'i-old': 'drain' });
  });

  it('terminates a draining worker when its agent says drained, or when its grace is over, not before', () => {
    const workers = [worker('i-a', { [TAG.drainRequestedAt]: minutesAgo(3).toISOString() })];
    const retirements = { 'i-a': draining('i-a', 'idle', 3) };

    expect(stepsOf(plan({ workers, retirements }))).toEqual({ 'i-a': 'wait' });
    expect(
      stepsOf(plan({ workers, retirements, heartbeats: new Map([['i-a', { at: now, status: 'drained' }]]) })),
    ).toEqual({ 'i-a': 'terminate' });
    expect(stepsOf(plan({ workers, retirements: { 'i-a': draining('i-a', 'idle', 10) } }))).toEqual({
      'i-a': 'terminate',
    });
  });

  it('tags again a worker whose drain was recorded by a run that died before tagging it', () => {
    expect(
      stepsOf(plan({ workers: [worker('i-a')], retirements: { 'i-a': draining('i-a', 'idle', 3) } })),
    ).toEqual({ 'i-a': 'retag' });
  });

  it('rebuilds a lost retirement from the worker’s drain tag, with its time and reason', () => {
    const tagged = worker('i-a', {
      [TAG.drainRequestedAt]: minutesAgo(12).toISOString(),
      [TAG.drainReason]: 'max-lifetime',
    });

    const result = plan({ workers: [tagged] });

    expect(result.record).toEqual([
      expect.objectContaining({
        instanceId: 'i-a',
        reason: 'max-lifetime',
        replaceFirst: false,
        drainRequestedAt: minutesAgo(12).toISOString(),
      }),
    ]);
    expect(stepsOf(result)).toEqual({ 'i-a': 'terminate' });
  });

  it('names as started only the retirements the run begins: not one rebuilt, not one known, not one over budget', () => {
    const rebuilt = worker('i-tagged', {
      [TAG.drainRequestedAt]: minutesAgo(2).toISOString(),
      [TAG.drainReason]: 'scheduled-change',
    });
    const [known, fresh, over] = ['i-known', 'i-fresh', 'i-over'].map((id) => worker(id));
    if (known === undefined || fresh === undefined || over === undefined) throw new Error('no workers');

    const result = plan({
      workers: [rebuilt, known, fresh, over],
      retirements: { 'i-known': retirementOf(known, 'scheduled-change', minutesAgo(5)) },
      candidates: [
        { worker: known, reason: 'scheduled-change' },
        { worker: fresh, reason: 'scheduled-change' },
        { worker: over, reason: 'max-lifetime' },
      ],
      budget: 0,
    });

    expect(result.started.map((fact) => fact.instanceId)).toEqual(['i-fresh']);
    expect(result.record.map((fact) => fact.instanceId).sort()).toEqual(['i-fresh', 'i-tagged']);
  });

  it('forgets a retirement whose worker is gone', () => {
    expect(stepsOf(plan({ retirements: { 'i-gone': draining('i-gone', 'idle', 3) } }))).toEqual({
      'i-gone': 'forget',
    });
  });

  it('never drains nor terminates a protected worker', () => {
    const kept = worker('i-a', { [TAG.protected]: 'true' });

    const result = plan({
      workers: [kept],
      retirements: { 'i-a': draining('i-a', 'operator-drain', 30) },
      candidates: [],
    });
    const fresh = plan({ workers: [kept], candidates: [{ worker: kept, reason: 'idle' }] });

    expect(stepsOf(result)).toEqual({ 'i-a': 'wait' });
    expect(fresh.record).toEqual([]);
  });

  it('starts budgeted retirements only while the budget has room, counting those under way', () => {
    const workers = ['i-1', 'i-2', 'i-3', 'i-4'].map((id) => worker(id));
    const result = plan({
      workers,
      retirements: { 'i-1': draining('i-1', 'max-lifetime', 3) },
      candidates: workers.slice(1).map((candidate) => ({ worker: candidate, reason: 'idle' as const })),
      budget: 2,
    });

    expect(result.record.map((fact) => fact.instanceId)).toEqual(['i-2']);
    expect(stepsOf(result)).toEqual({ 'i-1': 'retag', 'i-2': 'drain' });
  });

  it('lets an operator’s drain and a worker replaced early through a spent budget', () => {
    const workers = ['i-1', 'i-2', 'i-3'].map((id) => worker(id));
    const result = plan({
      workers,
      retirements: {
        'i-1': draining('i-1', 'idle', 3),
        'i-2': retirementOf(worker('i-2'), 'operator-drain', minutesAgo(1), { replaceFirst: false }),
      },
      candidates: [{ worker: workers[2] as Worker, reason: 'replaced-early' }],
      budget: 1,
    });

    expect(stepsOf(result)).toEqual({ 'i-1': 'retag', 'i-2': 'drain', 'i-3': 'drain' });
  });

  it('terminates at once on a fleet that gives no drain grace', () => {
    const idle = worker('i-idle');

    expect(
      stepsOf(plan({ workers: [idle], candidates: [{ worker: idle, reason: 'idle' }], grace: 0 })),
    ).toEqual({
      'i-idle': 'terminate',
    });
  });
});

describe('planRetirements: what AWS schedules waits for nothing', () => {
  it('starts a scheduled change with the budget spent: AWS sets its time', () => {
    const old = worker('i-old');
    const aws = worker('i-aws');
    const result = plan({
      workers: [old, aws],
      retirements: { 'i-old': draining('i-old', 'max-lifetime', 1) },
      candidates: [{ worker: aws, reason: 'scheduled-change' }],
      budget: 1,
    });

    expect(result.record.map((fact) => fact.instanceId)).toEqual(['i-aws']);
  });
});

describe('planRetirements: disruption windows', () => {
  it('starts no max-lifetime, drift or above-max retirement while the windows are closed; idle, operator and AWS ones go', () => {
    const workers = ['i-old', 'i-drift', 'i-above', 'i-idle', 'i-drained', 'i-aws'].map((id) => worker(id));
    const reasons = [
      'max-lifetime',
      'ami-drift',
      'above-max',
      'idle',
      'operator-drain',
      'scheduled-change',
    ] as const;
    const candidates = workers.map((candidate, index) => ({
      worker: candidate,
      reason: reasons[index] ?? 'idle',
    }));

    const closed = plan({ workers, candidates, windowOpen: false });
    const open = plan({ workers, candidates, windowOpen: true });

    expect(closed.record.map((fact) => fact.instanceId).sort()).toEqual(['i-aws', 'i-drained', 'i-idle']);
    expect(open.record).toHaveLength(6);
  });

  it('lets a windowed retirement already under way go on when the windows close', () => {
    const old = worker('i-old');
    const result = plan({
      workers: [old],
      retirements: { 'i-old': draining('i-old', 'max-lifetime', 1) },
      windowOpen: false,
    });

    // Its drain was requested before: it goes on (here its tag is put back), the windows notwithstanding.
    expect(stepsOf(result)).toEqual({ 'i-old': 'retag' });
  });
});

describe('disruptionBudget', () => {
  it('is unlimited without a budget, a number as given, a percentage rounded up and at least one', () => {
    expect(disruptionBudget({}, 20)).toBe(Number.POSITIVE_INFINITY);
    expect(disruptionBudget({ disruption: { budget: 2 } }, 20)).toBe(2);
    expect(disruptionBudget({ disruption: { budget: '10%' } }, 25)).toBe(3);
    expect(disruptionBudget({ disruption: { budget: '10%' } }, 0)).toBe(1);
  });
});
