import { dueRetirements } from '../../../src/fleet/due-retirements';
import { retirementCandidates } from '../../../src/fleet/reap-plan';
import {
  budgetedWorkers,
  disruptionBudget,
  planRetirements,
  type RetirementCandidate,
  retirementOf,
  retirementStage,
} from '../../../src/fleet/retirement-plan';
import type { ReplacementFact, RetirementFact, ScheduledChange } from '../../../src/model/fleet-state';
import type { Heartbeat } from '../../../src/model/heartbeat';
import { TAG } from '../../../src/model/tags';
import type { Worker } from '../../../src/model/worker';
import { workerWith } from '../fixtures';

const now = new Date('2026-12-05T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
const worker = (id: string, tags: Record<string, string> = {}, state = 'running', launchedMinutesAgo = 60) =>
  workerWith({ instanceId: id, tags, state, launchTime: minutesAgo(launchedMinutesAgo) });

/** A replacement fact a retirement asked for (the planner reads only that it is there). */
const replacementAsked = (
  instanceId: string,
  reason: RetirementFact['reason'],
  status: ReplacementFact['status'],
): ReplacementFact => ({
  instanceId,
  cause: 'retirement',
  reason,
  correlationId: `retire-${instanceId}`,
  pool: { instanceType: 'c7g.large', subnetId: 'subnet-a' },
  at: minutesAgo(5).toISOString(),
  status,
});

function plan(
  input: {
    workers?: readonly Worker[];
    retirements?: Record<string, RetirementFact>;
    replacements?: Record<string, ReplacementFact>;
    candidates?: RetirementCandidate[];
    heartbeats?: Map<string, Heartbeat>;
    budget?: number;
    grace?: number;
    windowOpen?: boolean;
    configured?: boolean;
  } = {},
) {
  return planRetirements({
    workers: input.workers ?? [],
    facts: { replacements: input.replacements ?? {}, retirements: input.retirements ?? {} },
    candidates: input.candidates ?? [],
    heartbeats: input.heartbeats ?? new Map(),
    budget: input.budget ?? Number.POSITIVE_INFINITY,
    ...(input.windowOpen === undefined ? {} : { windowOpen: input.windowOpen }),
    ...(input.configured === undefined ? {} : { configured: input.configured }),
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
/** What the reaper reports of one worker's step: why it waits, or why it is terminated. */
const whyOf = (result: ReturnType<typeof plan>, id: string) => {
  const step = result.steps.find((each) => each.step !== 'forget' && each.fact.instanceId === id);
  return step?.step === 'wait' || step?.step === 'terminate' ? step.why : undefined;
};
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
    expect(whyOf(waiting, 'i-old')).toBe('its replacement is not running yet');
    expect(stepsOf(running)).toEqual({ 'i-old': 'drain' });
  });

  it('terminates a draining worker when its agent says drained, or when its grace is over, not before', () => {
    const workers = [worker('i-a', { [TAG.drainRequestedAt]: minutesAgo(3).toISOString() })];
    const retirements = { 'i-a': draining('i-a', 'idle', 3) };

    const before = plan({ workers, retirements });
    const drained = plan({
      workers,
      retirements,
      heartbeats: new Map([['i-a', { at: now, status: 'drained' }]]),
    });
    const over = plan({ workers, retirements: { 'i-a': draining('i-a', 'idle', 10) } });

    expect([stepsOf(before), whyOf(before, 'i-a')]).toEqual([{ 'i-a': 'wait' }, 'draining']);
    expect([stepsOf(drained), whyOf(drained, 'i-a')]).toEqual([
      { 'i-a': 'terminate' },
      'its agent reports drained',
    ]);
    expect([stepsOf(over), whyOf(over, 'i-a')]).toEqual([{ 'i-a': 'terminate' }, 'its drain grace is over']);
  });

  it('counts the grace from the drain request when the recorded deadline is missing or unreadable', () => {
    const workers = [worker('i-a', { [TAG.drainRequestedAt]: minutesAgo(3).toISOString() })];
    const { deadline: _lost, ...noDeadline } = draining('i-a', 'idle', 3);
    const unreadable = { ...draining('i-a', 'idle', 3), deadline: 'soon' };
    const { deadline: _gone, ...overdue } = draining('i-a', 'idle', 10);

    expect(stepsOf(plan({ workers, retirements: { 'i-a': noDeadline } }))).toEqual({ 'i-a': 'wait' });
    expect(stepsOf(plan({ workers, retirements: { 'i-a': unreadable } }))).toEqual({ 'i-a': 'wait' });
    expect(stepsOf(plan({ workers, retirements: { 'i-a': overdue } }))).toEqual({ 'i-a': 'terminate' });
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

  it('rebuilds a drain tag without a reason it knows as rebuilt, its deadline the tag’s time plus the drain grace', () => {
    const asked = minutesAgo(3);
    const untold = worker('i-untold', { [TAG.drainRequestedAt]: asked.toISOString() });
    const unknown = worker('i-unknown', {
      [TAG.drainRequestedAt]: asked.toISOString(),
      [TAG.drainReason]: 'bored',
    });

    const result = plan({ workers: [untold, unknown] });

    const rebuilt = expect.objectContaining({
      reason: 'rebuilt',
      drainRequestedAt: asked.toISOString(),
      deadline: new Date(asked.getTime() + 10 * 60_000).toISOString(),
    });
    expect(result.record).toEqual([rebuilt, rebuilt]);
    expect(stepsOf(result)).toEqual({ 'i-untold': 'wait', 'i-unknown': 'wait' });
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

  it('forgets a retirement whose worker is gone, draining or not started yet', () => {
    expect(
      stepsOf(
        plan({
          retirements: {
            'i-gone': draining('i-gone', 'idle', 3),
            'i-went': retirementOf(worker('i-went'), 'max-lifetime', minutesAgo(5)),
          },
        }),
      ),
    ).toEqual({ 'i-gone': 'forget', 'i-went': 'forget' });
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
    expect(whyOf(result, 'i-a')).toBe('protected by the worker-fleet:protected tag');
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

    const result = plan({ workers: [idle], candidates: [{ worker: idle, reason: 'idle' }], grace: 0 });

    expect(stepsOf(result)).toEqual({ 'i-idle': 'terminate' });
    expect(whyOf(result, 'i-idle')).toBe('the fleet gives no drain grace');
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

describe('planRetirements: the replacement asked for', () => {
  const EVENT = 'arn:aws:health:us-east-1::event/EC2/AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED/1';
  const replacementOf = (result: ReturnType<typeof plan>) =>
    result.steps.find((step) => step.step === 'replace')?.replacement;

  it('carries the id of what asked for the retirement, else one of its own', () => {
    const old = worker('i-old');
    const told = plan({
      workers: [old],
      candidates: [{ worker: old, reason: 'scheduled-change', correlationId: EVENT }],
    });
    const own = plan({ workers: [old], candidates: [{ worker: old, reason: 'max-lifetime' }] });

    expect(told.record).toEqual([expect.objectContaining({ correlationId: EVENT })]);
    expect(replacementOf(told)?.correlationId).toBe(EVENT);
    expect(replacementOf(own)?.correlationId).toBe('retire-i-old');
  });

  it('names the worker’s pool, as recorded with the retirement or, for a fact recorded without one, the worker’s', () => {
    const old = worker('i-old');
    const { pool: _none, ...withoutPool } = retirementOf(old, 'max-lifetime', minutesAgo(5));
    const pool = { instanceType: 'c7g.large', subnetId: 'subnet-a' };

    const fresh = plan({ workers: [old], candidates: [{ worker: old, reason: 'max-lifetime' }] });
    const recorded = plan({ workers: [old], retirements: { 'i-old': withoutPool } });

    expect(fresh.record).toEqual([expect.objectContaining({ pool })]);
    expect(replacementOf(fresh)?.pool).toEqual(pool);
    expect(replacementOf(recorded)?.pool).toEqual(pool);
  });
});

describe('planRetirements: retirements other triggers recorded, under the budget', () => {
  const recorded = (id: string, reason: RetirementFact['reason'], minutes: number) =>
    retirementOf(worker(id), reason, minutesAgo(minutes));

  it('starts them oldest first while the budget has room; the others wait, saying the budget is spent', () => {
    const result = plan({
      workers: [worker('i-new'), worker('i-old')],
      retirements: {
        'i-new': recorded('i-new', 'max-lifetime', 1),
        'i-old': recorded('i-old', 'max-lifetime', 5),
      },
      budget: 1,
    });

    expect(stepsOf(result)).toEqual({ 'i-new': 'wait', 'i-old': 'replace' });
    expect(whyOf(result, 'i-new')).toBe('disruption budget spent (1)');
  });

  it('starts the lowest instance id first among those asked for at the same time', () => {
    const result = plan({
      workers: [worker('i-b'), worker('i-a')],
      retirements: { 'i-b': recorded('i-b', 'ami-drift', 5), 'i-a': recorded('i-a', 'ami-drift', 5) },
      budget: 1,
    });

    expect(stepsOf(result)).toEqual({ 'i-a': 'replace', 'i-b': 'wait' });
  });

  it('counts one whose replacement is asked for as under way: it keeps its place ahead of an older one', () => {
    const asked = recorded('i-asked', 'max-lifetime', 1);
    const replacement: ReplacementFact = replacementAsked('i-asked', 'max-lifetime', 'pending');

    const result = plan({
      workers: [worker('i-asked'), worker('i-older')],
      retirements: { 'i-asked': asked, 'i-older': recorded('i-older', 'max-lifetime', 5) },
      replacements: { 'i-asked': replacement },
      budget: 1,
    });

    expect(stepsOf(result)).toEqual({ 'i-asked': 'wait', 'i-older': 'wait' });
    expect(whyOf(result, 'i-asked')).toBe('its replacement is not running yet');
    expect(whyOf(result, 'i-older')).toBe('disruption budget spent (1)');
  });

  it('counts neither a retirement whose worker is gone nor one of an unbudgeted reason', () => {
    const result = plan({
      workers: [worker('i-operator'), worker('i-old')],
      retirements: {
        'i-gone': draining('i-gone', 'max-lifetime', 3),
        'i-operator': draining('i-operator', 'operator-drain', 3),
      },
      candidates: [{ worker: worker('i-old'), reason: 'max-lifetime' }],
      budget: 1,
    });

    expect(stepsOf(result)).toEqual({ 'i-gone': 'forget', 'i-operator': 'retag', 'i-old': 'replace' });
  });

  it('says why one waits: outside its windows for a windowed reason, the budget spent for any other', () => {
    const result = plan({
      workers: [worker('i-old'), worker('i-idle')],
      retirements: { 'i-old': recorded('i-old', 'max-lifetime', 5), 'i-idle': recorded('i-idle', 'idle', 5) },
      budget: 0,
      windowOpen: false,
    });

    expect(whyOf(result, 'i-old')).toBe('outside its disruption windows');
    expect(whyOf(result, 'i-idle')).toBe('disruption budget spent (0)');
  });
});

describe('planRetirements: orphans', () => {
  const inMinutes = (minutes: number) => new Date(now.getTime() + minutes * 60_000);

  it('asks an orphan to drain only once its grace is over, and says until when it waits', () => {
    const orphan = worker('i-orphan');
    const until = inMinutes(30);
    const first = plan({
      workers: [orphan],
      candidates: [{ worker: orphan, reason: 'orphan', notBefore: until }],
      configured: false,
    });
    const graceEnds = (notBefore: Date) =>
      stepsOf(
        plan({
          workers: [orphan],
          retirements: { 'i-orphan': retirementOf(orphan, 'orphan', minutesAgo(30), { notBefore }) },
          configured: false,
        }),
      );

    expect(first.record).toEqual([
      expect.objectContaining({ reason: 'orphan', notBefore: until.toISOString() }),
    ]);
    expect(stepsOf(first)).toEqual({ 'i-orphan': 'wait' });
    expect(whyOf(first, 'i-orphan')).toBe(`its grace runs until ${until.toISOString()}`);
    expect(graceEnds(new Date(now.getTime() + 1))).toEqual({ 'i-orphan': 'wait' });
    expect(graceEnds(now)).toEqual({ 'i-orphan': 'drain' });
    expect(graceEnds(minutesAgo(1))).toEqual({ 'i-orphan': 'drain' });
  });

  it('forgets an orphan whose fleet is configured again before it is asked to drain; one asked already goes on', () => {
    const orphan = worker('i-orphan');
    const inGrace = {
      'i-orphan': retirementOf(orphan, 'orphan', minutesAgo(5), { notBefore: inMinutes(25) }),
    };
    const asked = { 'i-orphan': draining('i-orphan', 'orphan', 3) };

    expect(stepsOf(plan({ workers: [orphan], retirements: inGrace, configured: false }))).toEqual({
      'i-orphan': 'wait',
    });
    expect(stepsOf(plan({ workers: [orphan], retirements: inGrace }))).toEqual({ 'i-orphan': 'forget' });
    expect(stepsOf(plan({ workers: [orphan], retirements: asked }))).toEqual({ 'i-orphan': 'retag' });
  });
});

describe('retirementOf', () => {
  it('records the worker’s pool, when it was asked for, and replace-first as its reason says', () => {
    expect(retirementOf(worker('i-a'), 'max-lifetime', now)).toStrictEqual({
      instanceId: 'i-a',
      reason: 'max-lifetime',
      replaceFirst: true,
      requestedAt: now.toISOString(),
      pool: { instanceType: 'c7g.large', subnetId: 'subnet-a' },
    });
    expect(retirementOf(worker('i-a'), 'idle', now).replaceFirst).toBe(false);
  });

  it('carries what asked for it and an orphan’s grace when given', () => {
    const until = new Date(now.getTime() + 30 * 60_000);

    expect(
      retirementOf(worker('i-a'), 'orphan', now, { correlationId: 'fleet-gone', notBefore: until }),
    ).toMatchObject({ correlationId: 'fleet-gone', notBefore: until.toISOString() });
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

describe('planRetirements: a protected worker holds no place in the budget', () => {
  it('a worker protected mid-drain (fact expired, rebuilt from its tag) does not hold the budget for ever', () => {
    const kept = worker('i-kept', {
      [TAG.protected]: 'true',
      [TAG.drainRequestedAt]: minutesAgo(3 * 24 * 60).toISOString(),
      [TAG.drainReason]: 'max-lifetime',
    });
    const old = worker('i-old');

    const result = plan({
      workers: [kept, old],
      candidates: [{ worker: old, reason: 'max-lifetime' }],
      budget: 1,
    });

    expect(stepsOf(result)).toEqual({ 'i-kept': 'wait', 'i-old': 'replace' });
  });

  it('a worker protected after its retirement started does not hold the budget while it stays protected', () => {
    const kept = worker('i-kept', { [TAG.protected]: 'true' });
    const old = worker('i-old');
    const started: RetirementFact = {
      ...retirementOf(kept, 'ami-drift', minutesAgo(60)),
      drainRequestedAt: minutesAgo(60).toISOString(),
      deadline: minutesAgo(50).toISOString(),
    };

    const result = plan({
      workers: [kept, old],
      retirements: { 'i-kept': started },
      candidates: [{ worker: old, reason: 'ami-drift' }],
      budget: 1,
    });

    expect(stepsOf(result)).toEqual({ 'i-kept': 'wait', 'i-old': 'replace' });
  });
});

describe('planRetirements: what AWS schedules is done before its start', () => {
  const change = (instanceId: string, startsAt: Date): ScheduledChange => ({
    instanceId,
    source: 'instance-status',
    eventId: `instance-event-${instanceId}`,
    code: 'instance-retirement',
    startsAt: startsAt.toISOString(),
    at: now.toISOString(),
  });

  it('a scheduled change starting within the drain grace is terminated before its start', () => {
    const aws = worker('i-aws');
    const replacement = worker('i-new', { [TAG.replaces]: 'i-aws' });
    const soon = new Date(now.getTime() + 5 * 60_000);
    const [due] = dueRetirements('batch', 'ami-1', [aws], { scheduledChanges: [change('i-aws', soon)] });
    if (due === undefined) throw new Error('not due');
    // Recorded two minutes ago from the due retirement, with its start.
    const fact = retirementOf(aws, 'scheduled-change', minutesAgo(2), {
      correlationId: due.correlationId,
      notAfter: due.notAfter,
    });

    const result = plan({
      workers: [aws, replacement],
      retirements: { 'i-aws': fact },
      replacements: {
        'i-aws': replacementAsked('i-aws', 'scheduled-change', 'launched'),
      },
    });

    const [step] = result.steps;
    expect(step?.step).toBe('drain');
    const deadline = step?.step === 'drain' ? Date.parse(step.fact.deadline ?? '') : Number.NaN;
    expect(deadline).toBeLessThanOrEqual(soon.getTime());
  });

  it('begins a scheduled change’s drain without its replacement exactly when the drain grace and 5 minutes are left before its start', () => {
    const aws = worker('i-aws');
    const replacements: Record<string, ReplacementFact> = {
      'i-aws': replacementAsked('i-aws', 'scheduled-change', 'pending'),
    };
    const startingIn = (ms: number) =>
      plan({
        workers: [aws],
        retirements: {
          'i-aws': retirementOf(aws, 'scheduled-change', minutesAgo(1), {
            notAfter: new Date(now.getTime() + ms),
          }),
        },
        replacements,
      }).steps[0]?.step;

    expect(startingIn(15 * 60_000)).toBe('drain');
    expect(startingIn(15 * 60_000 + 1)).toBe('wait');
  });

  it('keeps a protected worker’s scheduled change from its drain: replaced first, then waiting, even once its replacement runs or it was asked to drain before', () => {
    const kept = worker('i-kept', { [TAG.protected]: 'true' });
    const replacement = worker('i-new', { [TAG.replaces]: 'i-kept' });
    const fact = retirementOf(kept, 'scheduled-change', minutesAgo(5));
    const replacements: Record<string, ReplacementFact> = {
      'i-kept': replacementAsked('i-kept', 'scheduled-change', 'launched'),
    };
    const askedBefore = { ...fact, drainRequestedAt: minutesAgo(2).toISOString() };

    const replaced = plan({ workers: [kept, replacement], retirements: { 'i-kept': fact }, replacements });
    const unreplaced = plan({ workers: [kept], retirements: { 'i-kept': askedBefore } });

    expect(stepsOf(replaced)).toEqual({ 'i-kept': 'wait' });
    expect(whyOf(replaced, 'i-kept')).toBe(`protected by the ${TAG.protected} tag`);
    expect(stepsOf(unreplaced)).toEqual({ 'i-kept': 'wait' });
  });

  it('a scheduled change close to its start does not wait for its replacement to run: drained now, terminated before it', () => {
    const aws = worker('i-aws');
    const soon = new Date(now.getTime() + 12 * 60_000);
    const fact = retirementOf(aws, 'scheduled-change', minutesAgo(1), { notAfter: soon });
    const replacements: Record<string, ReplacementFact> = {
      'i-aws': replacementAsked('i-aws', 'scheduled-change', 'pending'),
    };
    const far = retirementOf(aws, 'scheduled-change', minutesAgo(1), {
      notAfter: new Date(now.getTime() + 3 * 86_400_000),
    });

    const [close] = plan({ workers: [aws], retirements: { 'i-aws': fact }, replacements }).steps;
    const [early] = plan({ workers: [aws], retirements: { 'i-aws': far }, replacements }).steps;

    expect(close).toMatchObject({
      step: 'drain',
      fact: { deadline: new Date(soon.getTime() - 5 * 60_000).toISOString() },
    });
    expect(early).toMatchObject({ step: 'wait', why: 'its replacement is not running yet' });
  });

  it('a scheduled change candidate records its start as the retirement’s notAfter', () => {
    const aws = worker('i-aws');
    const startsAt = new Date(now.getTime() + 86_400_000);

    const result = plan({
      workers: [aws],
      candidates: [{ worker: aws, reason: 'scheduled-change', notAfter: startsAt }],
    });

    expect(result.started).toEqual([expect.objectContaining({ notAfter: startsAt.toISOString() })]);
  });

  it('a scheduled change for a protected worker is at least replaced first and told (started)', () => {
    const kept = worker('i-kept', { [TAG.protected]: 'true' });

    const result = plan({
      workers: [kept],
      candidates: [{ worker: kept, reason: 'scheduled-change', correlationId: 'instance-event-1' }],
    });

    expect(result.started.map((fact) => fact.instanceId)).toEqual(['i-kept']);
    expect(stepsOf(result)).toEqual({ 'i-kept': 'replace' });
  });

  it('a closed change (a later closing record of the same event) makes nothing due', () => {
    const aws = worker('i-aws');
    const open = change('i-aws', new Date(now.getTime() + 86_400_000));
    expect(
      dueRetirements('batch', 'ami-1', [aws], { scheduledChanges: [open, { ...open, closed: true }] }),
    ).toEqual([]);
  });
});

describe('planRetirements: one retirement per worker', () => {
  it('(premise) an idle worker above a lowered maxCapacity is an above-max candidate too', () => {
    const idle = worker('i-idle', { [TAG.idleSince]: minutesAgo(30).toISOString() });
    const busy = worker('i-busy');
    const candidates = retirementCandidates(
      { rebalanceRetireAfterMinutes: 10, maxCapacity: 1, idle: { maxLifetimeHours: undefined } },
      [idle, busy],
      new Set(),
      new Map([['i-idle', { at: now, status: 'idle' as const }]]),
      now,
    );
    expect(candidates).toEqual([{ worker: idle, reason: 'above-max' }]);
  });

  it('a worker given twice (above-max and idle) takes one place of the budget and is recorded once', () => {
    const idle = worker('i-idle');
    const old = worker('i-old', {}, 'running', 10_000);

    const result = plan({
      workers: [idle, old],
      candidates: [
        { worker: idle, reason: 'above-max' },
        { worker: idle, reason: 'idle' },
        { worker: old, reason: 'max-lifetime' },
      ],
      budget: 2,
    });

    expect(result.record.map((fact) => fact.instanceId).sort()).toEqual(['i-idle', 'i-old']);
    expect(stepsOf(result)).toEqual({ 'i-idle': 'drain', 'i-old': 'replace' });
  });
});

describe('budgetedWorkers: a percentage budget while replacements run', () => {
  it('a "20%" budget of a 10-worker fleet stays 2 while the first two retirements are replaced', () => {
    const old = Array.from({ length: 10 }, (_, index) =>
      worker(`i-old${index}`, {}, 'running', 10_000 - index),
    );
    const replacements = ['i-old0', 'i-old1'].map((id) => worker(`i-new-${id}`, { [TAG.replaces]: id }));
    const workers = [...old, ...replacements];
    const replacing = (id: string): ReplacementFact => replacementAsked(id, 'max-lifetime', 'launched');
    const result = plan({
      workers,
      retirements: {
        'i-old0': retirementOf(old[0] as Worker, 'max-lifetime', minutesAgo(5)),
        'i-old1': retirementOf(old[1] as Worker, 'max-lifetime', minutesAgo(5)),
      },
      replacements: { 'i-old0': replacing('i-old0'), 'i-old1': replacing('i-old1') },
      candidates: old.slice(2).map((candidate) => ({ worker: candidate, reason: 'max-lifetime' as const })),
      // As reapFleet computes it: the fleet's workers without the replacements of those still retiring.
      budget: disruptionBudget(
        { disruption: { budget: '20%' } },
        budgetedWorkers(workers, new Set(['i-old0', 'i-old1'])),
      ),
    });

    expect(result.started).toEqual([]);
  });
});

describe('planRetirements: what a worker’s own heartbeat cannot skip', () => {
  it('a drained heartbeat written before any drain request skips neither the replacement nor the drain request', () => {
    const old = worker('i-old');
    const beats = new Map([['i-old', { at: now, status: 'drained' as const }]]);
    const first = plan({
      workers: [old],
      candidates: [{ worker: old, reason: 'max-lifetime' }],
      heartbeats: beats,
    });
    expect(stepsOf(first)).toEqual({ 'i-old': 'replace' });
  });

  it('a retirement whose worker vanished is forgotten and holds no place in the budget', () => {
    const fact: RetirementFact = {
      ...retirementOf(worker('i-gone'), 'max-lifetime', minutesAgo(5)),
      drainRequestedAt: minutesAgo(5).toISOString(),
      deadline: new Date(now.getTime() + 5 * 60_000).toISOString(),
    };
    const old = worker('i-old');
    const result = plan({
      workers: [old],
      retirements: { 'i-gone': fact },
      candidates: [{ worker: old, reason: 'max-lifetime' }],
      budget: 1,
    });
    expect(stepsOf(result)).toEqual({ 'i-gone': 'forget', 'i-old': 'replace' });
  });
});

describe('budgetedWorkers', () => {
  it('counts pending and running workers not interrupted, without the replacements of listed workers still retiring', () => {
    const workers = [
      worker('i-a'),
      worker('i-b', {}, 'pending'),
      worker('i-retiring'),
      worker('i-new', { [TAG.replaces]: 'i-retiring' }),
      // Its retiring worker is gone: it is the fleet's now.
      worker('i-new-gone', { [TAG.replaces]: 'i-gone' }),
      // Replaces a worker not retiring (a spot interruption's replacement).
      worker('i-spot', { [TAG.replaces]: 'i-a' }),
      worker('i-stopped', {}, 'stopped'),
      worker('i-warned', { [TAG.interruptedAt]: now.toISOString() }),
    ];

    expect(budgetedWorkers(workers, new Set(['i-retiring', 'i-gone']))).toBe(5);
  });
});

describe('retirementStage', () => {
  it('is draining once the drain is requested, replacing once a replace-first one’s replacement is asked for, waiting before', () => {
    const fact = retirementOf(worker('i-a'), 'max-lifetime', minutesAgo(5));
    const asked: Record<string, ReplacementFact> = {
      'i-a': replacementAsked('i-a', 'max-lifetime', 'pending'),
    };

    expect(retirementStage(fact, {})).toBe('waiting');
    expect(retirementStage(fact, asked)).toBe('replacing');
    expect(retirementStage({ ...fact, replaceFirst: false }, asked)).toBe('waiting');
    expect(retirementStage({ ...fact, drainRequestedAt: now.toISOString() }, {})).toBe('draining');
  });
});

describe('planRetirements: a worker already retiring, a protected one, a replacement already listed', () => {
  it('bounds a retirement under way by the change AWS then schedules: its start recorded, a drain deadline moved before it, told', () => {
    const old = worker('i-old');
    const draining: RetirementFact = {
      ...retirementOf(old, 'max-lifetime', minutesAgo(5)),
      drainRequestedAt: minutesAgo(1).toISOString(),
      deadline: new Date(now.getTime() + 9 * 60_000).toISOString(),
    };
    const startsAt = new Date(now.getTime() + 8 * 60_000);

    const result = plan({
      workers: [old],
      retirements: { 'i-old': draining },
      candidates: [{ worker: old, reason: 'scheduled-change', notAfter: startsAt }],
    });
    const again = plan({
      workers: [old],
      retirements: { 'i-old': result.rescheduled[0] as RetirementFact },
      candidates: [{ worker: old, reason: 'scheduled-change', notAfter: startsAt }],
    });

    expect(result.rescheduled).toEqual([
      expect.objectContaining({
        reason: 'max-lifetime',
        notAfter: startsAt.toISOString(),
        deadline: new Date(startsAt.getTime() - 5 * 60_000).toISOString(),
      }),
    ]);
    expect(result.record).toEqual(result.rescheduled);
    expect(result.started).toEqual([]);
    expect(again.rescheduled).toEqual([]);
  });

  it('replaces a protected worker only for what AWS scheduled: an operator’s drain recorded before its tag waits', () => {
    const kept = worker('i-kept', { [TAG.protected]: 'true' });

    const result = plan({
      workers: [kept],
      retirements: { 'i-kept': retirementOf(kept, 'operator-drain', minutesAgo(5)) },
    });

    expect(stepsOf(result)).toEqual({ 'i-kept': 'wait' });
  });

  it('asks no second replacement when its fact expired and the replacement is listed', () => {
    const old = worker('i-old');
    const replacement = worker('i-new', { [TAG.replaces]: 'i-old' }, 'pending');
    const fact = retirementOf(old, 'max-lifetime', minutesAgo(30));

    const result = plan({ workers: [old, replacement], retirements: { 'i-old': fact } });
    const asked = plan({
      workers: [old, replacement],
      retirements: { 'i-old': fact },
      replacements: { 'i-old': replacementAsked('i-old', 'max-lifetime', 'launched') },
    });

    expect(stepsOf(result)).toEqual({ 'i-old': 'wait' });
    expect(stepsOf(asked)).toEqual({ 'i-old': 'wait' });
  });

  it('takes a worker’s first candidate that may start now: idle when above-max waits for a closed window', () => {
    const idle = worker('i-idle');

    const result = plan({
      workers: [idle],
      candidates: [
        { worker: idle, reason: 'above-max' },
        { worker: idle, reason: 'idle' },
      ],
      windowOpen: false,
      budget: 1,
    });

    expect(result.started).toEqual([expect.objectContaining({ instanceId: 'i-idle', reason: 'idle' })]);
    expect(stepsOf(result)).toEqual({ 'i-idle': 'drain' });
  });
});

describe('planRetirements: what a known retirement keeps', () => {
  const startsAt = new Date(now.getTime() + 86_400_000);

  it('starts nothing new for a worker whose retirement is under way, whatever else names it', () => {
    const old = worker('i-old');
    const draining: RetirementFact = {
      ...retirementOf(old, 'max-lifetime', minutesAgo(5)),
      drainRequestedAt: minutesAgo(1).toISOString(),
      deadline: new Date(now.getTime() + 9 * 60_000).toISOString(),
    };

    const result = plan({
      workers: [old],
      retirements: { 'i-old': draining },
      candidates: [{ worker: old, reason: 'idle' }],
    });

    expect(result.started).toEqual([]);
    expect(result.record).toEqual([]);
  });

  it('bounds nothing without a start, nor a scheduled change recorded before retirements kept one, nor a worker not listed', () => {
    const old = worker('i-old');
    const gone = worker('i-gone');
    const earlier = retirementOf(old, 'scheduled-change', minutesAgo(5));

    const withoutStart = plan({
      workers: [old],
      retirements: { 'i-old': retirementOf(old, 'max-lifetime', minutesAgo(5)) },
      candidates: [{ worker: old, reason: 'scheduled-change' }],
    });
    const recordedEarlier = plan({
      workers: [old],
      retirements: { 'i-old': earlier },
      candidates: [{ worker: old, reason: 'scheduled-change', notAfter: startsAt }],
    });
    const notListed = plan({
      workers: [old],
      candidates: [{ worker: gone, reason: 'scheduled-change', notAfter: startsAt }],
    });

    expect(withoutStart.rescheduled).toEqual([]);
    expect(recordedEarlier.rescheduled).toEqual([]);
    expect(notListed).toMatchObject({ started: [], rescheduled: [], record: [] });
  });
});

describe('planRetirements: a retirement under way meets a change AWS scheduled', () => {
  it('terminates in the same run a draining worker whose moved deadline has passed', () => {
    const old = worker('i-old');
    const draining: RetirementFact = {
      ...retirementOf(old, 'max-lifetime', minutesAgo(5)),
      drainRequestedAt: minutesAgo(1).toISOString(),
      deadline: new Date(now.getTime() + 9 * 60_000).toISOString(),
    };
    const startsAt = new Date(now.getTime() + 4 * 60_000);

    const result = plan({
      workers: [old],
      retirements: { 'i-old': draining },
      candidates: [{ worker: old, reason: 'scheduled-change', notAfter: startsAt }],
    });

    expect(stepsOf(result)).toEqual({ 'i-old': 'terminate' });
  });

  it('records the start of one not draining yet, with no deadline until its drain', () => {
    const old = worker('i-old');
    const startsAt = new Date(now.getTime() + 86_400_000);

    const result = plan({
      workers: [old],
      retirements: { 'i-old': retirementOf(old, 'ami-drift', minutesAgo(5)) },
      candidates: [{ worker: old, reason: 'scheduled-change', notAfter: startsAt }],
    });

    expect(result.rescheduled).toEqual([
      { ...retirementOf(old, 'ami-drift', minutesAgo(5)), notAfter: startsAt.toISOString() },
    ]);
  });

  it('holds one place of the budget for a worker under way that another candidate names again', () => {
    const old = worker('i-old');
    const next = worker('i-next');
    const draining: RetirementFact = {
      ...retirementOf(old, 'max-lifetime', minutesAgo(5)),
      drainRequestedAt: minutesAgo(1).toISOString(),
      deadline: new Date(now.getTime() + 9 * 60_000).toISOString(),
    };

    const result = plan({
      workers: [old, next],
      retirements: { 'i-old': draining },
      candidates: [
        { worker: old, reason: 'max-lifetime' },
        { worker: next, reason: 'max-lifetime' },
      ],
      budget: 2,
    });

    expect(result.started.map((fact) => fact.instanceId)).toEqual(['i-next']);
  });
});
