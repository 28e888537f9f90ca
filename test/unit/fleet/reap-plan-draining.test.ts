import type { Verdict, VerdictKind } from '../../../src/fleet/idle-policy';
import { planReaping, retirementCandidates } from '../../../src/fleet/reap-plan';
import { TAG } from '../../../src/model/tags';
import { workerWith } from '../fixtures';

const now = new Date('2026-11-27T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
const settings = { bootGraceMinutes: 10, terminateAfterMinutes: 10, minWorkers: 5 };
const spec = (rebalanceRetireAfterMinutes = 2, maxLifetimeHours?: number, maxCapacity = 10) => ({
  rebalanceRetireAfterMinutes,
  maxCapacity,
  idle: maxLifetimeHours === undefined ? {} : { maxLifetimeHours },
});

function judged(
  id: string,
  tags: Record<string, string>,
  kind: VerdictKind = 'busy',
  launchTime = minutesAgo(60),
) {
  const worker = workerWith({ instanceId: id, launchTime, tags });
  const verdict: Verdict = { kind, rule: 'heartbeat', explanation: `${kind}: test`, signals: {} };
  return { worker, verdict };
}

const atRisk = (kind: VerdictKind = 'busy', interruption = 'rebalance') =>
  judged(
    'i-risk',
    { [TAG.interruptedAt]: minutesAgo(5).toISOString(), [TAG.interruption]: interruption },
    kind,
  );
const replacement = (launchedMinutesAgo: number) =>
  judged('i-new', { [TAG.replaces]: 'i-risk' }, 'young', minutesAgo(launchedMinutesAgo));
const actionOf = (actions: ReturnType<typeof planReaping>, id: string) =>
  actions.find((action) => action.worker.instanceId === id)?.action;
const candidatesOf = (
  workers: readonly { worker: ReturnType<typeof workerWith> }[],
  options = spec(),
  retiring: ReadonlySet<string> = new Set(),
) =>
  retirementCandidates(
    options,
    workers.map((entry) => entry.worker),
    retiring,
    new Map(),
    now,
  ).map((candidate) => `${candidate.worker.instanceId} ${candidate.reason}`);

describe('retirementCandidates: workers replaced early', () => {
  it('retires a worker replaced early once its replacement has run the fleet’s delay', () => {
    expect(candidatesOf([atRisk(), replacement(2)])).toEqual(['i-risk replaced-early']);
  });

  it('waits the fleet’s delay after the replacement runs', () => {
    expect(candidatesOf([atRisk(), replacement(4)], spec(5))).toEqual([]);
    expect(candidatesOf([atRisk(), replacement(5)], spec(5))).toEqual(['i-risk replaced-early']);
  });

  it('keeps it while its replacement’s launch time is unknown', () => {
    const unknown = replacement(30);
    const { launchTime: _, ...withoutLaunchTime } = unknown.worker;

    expect(candidatesOf([atRisk(), { worker: withoutLaunchTime }])).toEqual([]);
  });

  it('keeps it while nothing replaces it', () => {
    expect(candidatesOf([atRisk()])).toEqual([]);
  });

  it('leaves a worker a spot warning interrupted to EC2, replaced or not, past its max lifetime or not', () => {
    expect(candidatesOf([atRisk('busy', 'terminate'), replacement(30)], spec(2, 0.9))).toEqual([]);
  });

  it('never names a worker already retiring', () => {
    expect(candidatesOf([atRisk(), replacement(30)], spec(), new Set(['i-risk']))).toEqual([]);
  });
});

describe('retirementCandidates: max lifetime and a lowered maxCapacity', () => {
  const aged = (id: string, minutes: number) => judged(id, {}, 'busy', minutesAgo(minutes));

  it('names every worker past its max lifetime, the oldest first, whatever its verdict', () => {
    expect(candidatesOf([aged('i-b', 90), aged('i-a', 120), aged('i-c', 30)], spec(2, 1))).toEqual([
      'i-a max-lifetime',
      'i-b max-lifetime',
    ]);
  });

  it('names the workers above maxCapacity, the youngest first, less those retiring for their lifetime', () => {
    const workers = [aged('i-a', 120), aged('i-b', 90), aged('i-c', 30), aged('i-d', 20)];

    expect(candidatesOf(workers, spec(2, undefined, 2))).toEqual(['i-d above-max', 'i-c above-max']);
    expect(candidatesOf(workers, spec(2, 1.9, 2))).toEqual(['i-a max-lifetime', 'i-d above-max']);
  });

  it('takes idle workers above maxCapacity before busy ones', () => {
    const workers = [aged('i-a', 120), aged('i-b', 90), aged('i-c', 30)].map((entry) => entry.worker);
    const heartbeats = new Map([['i-a', { at: now, status: 'idle' as const }]]);

    expect(
      retirementCandidates(spec(2, undefined, 2), workers, new Set(), heartbeats, now).map(
        (candidate) => candidate.worker.instanceId,
      ),
    ).toEqual(['i-a']);
  });
});

describe('planReaping: workers on their way out', () => {
  it('keeps a worker replaced early: the graceful path retires it, not the idle reaper', () => {
    expect(actionOf(planReaping(settings, [atRisk(), replacement(30)], now), 'i-risk')).toBe('keep');
  });

  it('never marks a draining worker past its max lifetime', () => {
    expect(actionOf(planReaping(settings, [atRisk('retire', 'terminate')], now), 'i-risk')).toBe('keep');
  });

  it('says a protected draining worker is kept by its tag', () => {
    const kept = judged('i-risk', {
      [TAG.interruptedAt]: minutesAgo(5).toISOString(),
      [TAG.interruption]: 'rebalance',
      [TAG.protected]: 'true',
    });

    expect(planReaping(settings, [kept, replacement(30)], now)[0]).toMatchObject({
      action: 'keep',
      reason: `protected by the ${TAG.protected} tag`,
    });
  });
});
