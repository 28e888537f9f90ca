import type { Verdict, VerdictKind } from '../../../src/fleet/idle-policy';
import { planReaping } from '../../../src/fleet/reap-plan';
import type { IdleSettings } from '../../../src/model/fleet-spec';
import { TAG } from '../../../src/model/tags';
import type { Worker } from '../../../src/model/worker';

const now = new Date('2026-11-25T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
const settings: IdleSettings & { minWorkers: number } = {
  bootGraceMinutes: 10,
  terminateAfterMinutes: 10,
  minWorkers: 0,
};

function judged(id: string, kind: VerdictKind, tags: Record<string, string> = {}) {
  const worker: Worker = {
    instanceId: id,
    instanceType: 'c7g.large',
    subnetId: 'subnet-a',
    availabilityZone: 'us-east-1a',
    state: 'running',
    market: 'spot',
    tags,
  };
  const verdict: Verdict = { kind, rule: 'heartbeat', explanation: `${kind}: test`, signals: {} };
  return { worker, verdict };
}

const decisions = (actions: ReturnType<typeof planReaping>) =>
  Object.fromEntries(
    actions.map((action) => [
      action.worker.instanceId,
      action.action === 'keep' ? `keep: ${action.reason}` : action.action,
    ]),
  );

describe('planReaping', () => {
  it.each([
    ['idle, unmarked', 'idle', {}, 'mark'],
    [
      'past its max lifetime, unmarked',
      'retire',
      {},
      'keep: past its max lifetime: retired through replacement',
    ],
    ['idle, marked past the grace', 'idle', { [TAG.idleSince]: minutesAgo(10) }, 'terminate'],
    [
      'past its max lifetime, marked (an older reaper)',
      'retire',
      { [TAG.idleSince]: minutesAgo(11) },
      'unmark',
    ],
    [
      'idle, marked inside the grace',
      'idle',
      { [TAG.idleSince]: minutesAgo(9) },
      'keep: marked idle, grace not over',
    ],
    ['idle, marked with a broken time', 'idle', { [TAG.idleSince]: 'yesterday' }, 'mark'],
    ['busy, marked', 'busy', { [TAG.idleSince]: minutesAgo(30) }, 'unmark'],
    ['young, marked', 'young', { [TAG.idleSince]: minutesAgo(30) }, 'unmark'],
    ['busy, unmarked', 'busy', {}, 'keep: busy'],
    ['unknown, marked', 'unknown', { [TAG.idleSince]: minutesAgo(30) }, 'keep: unknown is never idle'],
    [
      'idle but draining',
      'idle',
      { [TAG.interruptedAt]: minutesAgo(1), [TAG.idleSince]: minutesAgo(30) },
      'keep: draining: left to the interruption handler',
    ],
    [
      'idle, protected',
      'idle',
      { [TAG.protected]: 'yes', [TAG.idleSince]: minutesAgo(30) },
      `keep: protected by the ${TAG.protected} tag`,
    ],
    [
      'idle, protection tag "false"',
      'idle',
      { [TAG.protected]: 'false', [TAG.idleSince]: minutesAgo(30) },
      'terminate',
    ],
  ] as const)('%s: %s', (_name, kind, tags, decision) => {
    expect(decisions(planReaping(settings, [judged('i-1', kind, tags)], now))).toEqual({ 'i-1': decision });
  });

  it('keeps the scale-in floor, terminating the longest idle first', () => {
    const due = (id: string, minutes: number) => judged(id, 'idle', { [TAG.idleSince]: minutesAgo(minutes) });

    const plan = planReaping(
      { ...settings, minWorkers: 2 },
      [due('i-1', 20), due('i-2', 60), due('i-3', 40), judged('i-4', 'busy')],
      now,
    );

    expect(decisions(plan)).toEqual({
      'i-1': 'keep: scale-in floor: minWorkers 2',
      'i-2': 'terminate',
      'i-3': 'terminate',
      'i-4': 'keep: busy',
    });
  });

  it('says what kept a worker due for termination: protection or the floor, nothing for other keeps', () => {
    const due = (id: string, tags: Record<string, string> = {}) =>
      judged(id, 'idle', { [TAG.idleSince]: minutesAgo(30), ...tags });

    const plan = planReaping(
      { ...settings, minWorkers: 3 },
      [due('i-1', { [TAG.protected]: 'yes' }), due('i-2'), due('i-3'), judged('i-4', 'busy')],
      now,
    );

    const keptBy = Object.fromEntries(
      plan.map((action) => [
        action.worker.instanceId,
        action.action === 'keep' ? action.keptBy : action.action,
      ]),
    );
    expect(keptBy).toEqual({ 'i-1': 'protection', 'i-2': 'terminate', 'i-3': 'floor', 'i-4': undefined });
  });

  it('never marks a worker past its max lifetime at the default floor: it is retired through replacement', () => {
    const plan = planReaping({ ...settings, minWorkers: 5 }, [judged('i-1', 'retire')], now);

    expect(plan.map((action) => action.action)).toEqual(['keep']);
  });

  it('does not count draining workers towards the floor', () => {
    const plan = planReaping(
      { ...settings, minWorkers: 1 },
      [
        judged('i-1', 'idle', { [TAG.idleSince]: minutesAgo(30) }),
        judged('i-2', 'busy', { [TAG.interruptedAt]: minutesAgo(1) }),
      ],
      now,
    );

    expect(decisions(plan)['i-1']).toBe('keep: scale-in floor: minWorkers 1');
  });

  it('chooses between workers idle as long by instance id, whatever order they are listed in', () => {
    const due = (id: string) => judged(id, 'idle', { [TAG.idleSince]: minutesAgo(30) });

    const plan = planReaping({ ...settings, minWorkers: 1 }, [due('i-2'), due('i-1')], now);

    expect(decisions(plan)).toEqual({ 'i-1': 'terminate', 'i-2': 'keep: scale-in floor: minWorkers 1' });
  });

  it('plans nothing for an empty fleet', () => {
    expect(planReaping(settings, [], now)).toEqual([]);
  });
});
