import type { Verdict, VerdictKind } from '../../../src/fleet/idle-policy';
import { planReaping } from '../../../src/fleet/reap-plan';
import { TAG } from '../../../src/model/tags';
import { workerWith } from '../fixtures';

const now = new Date('2026-11-27T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
const settings = { bootGraceMinutes: 10, terminateAfterMinutes: 10, minWorkers: 5 };
const early = { rebalanceRetireAfterMinutes: 2 };

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

describe('planReaping: workers on their way out', () => {
  it('retires a worker replaced early once its replacement has run the fleet’s delay, whatever the floor', () => {
    const actions = planReaping(settings, [atRisk(), replacement(2)], now, early);

    expect(actionOf(actions, 'i-risk')).toBe('terminate');
    expect(actions.find((action) => action.worker.instanceId === 'i-risk')?.verdict).toMatchObject({
      kind: 'retire',
      rule: 'rebalance',
      explanation: 'retire: replaced early by i-new, which has run 2m',
    });
  });

  it('waits 2 minutes after the replacement runs when the fleet names no delay', () => {
    expect(actionOf(planReaping(settings, [atRisk(), replacement(2)], now), 'i-risk')).toBe('terminate');
    expect(actionOf(planReaping(settings, [atRisk(), replacement(1)], now), 'i-risk')).toBe('keep');
  });

  it('keeps it while its replacement’s launch time is unknown', () => {
    const unknown = replacement(30);
    const { launchTime: _, ...withoutLaunchTime } = unknown.worker;

    expect(
      actionOf(
        planReaping(settings, [atRisk(), { ...unknown, worker: withoutLaunchTime }], now, early),
        'i-risk',
      ),
    ).toBe('keep');
  });

  it('keeps it until its replacement has run that long', () => {
    expect(actionOf(planReaping(settings, [atRisk(), replacement(1)], now, early), 'i-risk')).toBe('keep');
  });

  it('keeps it while nothing replaces it', () => {
    expect(actionOf(planReaping(settings, [atRisk()], now, early), 'i-risk')).toBe('keep');
  });

  it('leaves a worker a spot warning interrupted to EC2, replaced or not', () => {
    const warned = atRisk('busy', 'terminate');

    expect(actionOf(planReaping(settings, [warned, replacement(30)], now, early), 'i-risk')).toBe('keep');
  });

  it('retires a draining worker past its max lifetime: the floor does not count it', () => {
    expect(actionOf(planReaping(settings, [atRisk('retire', 'terminate')], now, early), 'i-risk')).toBe(
      'terminate',
    );
  });

  it('never retires a protected draining worker', () => {
    const kept = judged('i-risk', {
      [TAG.interruptedAt]: minutesAgo(5).toISOString(),
      [TAG.interruption]: 'rebalance',
      [TAG.protected]: 'true',
    });

    expect(planReaping(settings, [kept, replacement(30)], now, early)[0]).toMatchObject({
      action: 'keep',
      reason: `protected by the ${TAG.protected} tag`,
    });
  });
});
