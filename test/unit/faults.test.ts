import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLaunchTrigger } from '../../src/events/launch';
import { parseReapRequest } from '../../src/events/reap';
import { judgeIdle, type VerdictKind } from '../../src/fleet/idle-policy';
import {
  holdForStaleHeartbeats,
  type JudgedWorker,
  planReaping,
  retirementCandidates,
} from '../../src/fleet/reap-plan';
import type { IdleSettings } from '../../src/model/fleet-spec';
import type { HeartbeatStatus } from '../../src/model/heartbeat';
import { TAG } from '../../src/model/tags';
import { workerWith } from './fixtures';

/** Issue 17's fault matrix, the rows that need no emulator: one test per row, named by the row. */

const sample = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '../../events', name), 'utf8'));

const now = new Date('2026-11-25T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);

/** A running worker launched `launchedHoursAgo`, judged `kind`, marked idle `markedMinutesAgo` (if given). */
function judged(
  id: string,
  kind: VerdictKind,
  launchedHoursAgo: number,
  markedMinutesAgo?: number,
): JudgedWorker {
  return {
    worker: workerWith({
      instanceId: id,
      launchTime: minutesAgo(launchedHoursAgo * 60),
      tags:
        markedMinutesAgo === undefined ? {} : { [TAG.idleSince]: minutesAgo(markedMinutesAgo).toISOString() },
    }),
    verdict: { kind, rule: kind, explanation: `${kind}: test`, signals: {} },
  };
}

const terminated = (actions: ReturnType<typeof planReaping>) =>
  actions.filter((action) => action.action === 'terminate').map((action) => action.worker.instanceId);

describe('Idle reaping', () => {
  it('F11: the minWorkers floor holds idle terminations, the longest idle first; a worker past its max lifetime is never marked nor held there: it retires through replacement', () => {
    const settings = { bootGraceMinutes: 10, terminateAfterMinutes: 10, maxLifetimeHours: 24, minWorkers: 3 };
    const aboveFloor = [
      judged('i-idle-long', 'idle', 5, 60),
      judged('i-idle', 'idle', 5, 20),
      judged('i-retire-30h', 'retire', 30),
      judged('i-retire-40h', 'retire', 40),
      judged('i-busy', 'busy', 5),
      judged('i-busy-2', 'busy', 5),
      judged('i-busy-3', 'busy', 5),
    ];
    // Three workers that stay (the one past its lifetime is going): the floor keeps the idle one.
    const atFloor = [
      judged('i-idle', 'idle', 5, 60),
      judged('i-retire-30h', 'retire', 30),
      judged('i-busy', 'busy', 5),
      judged('i-busy-2', 'busy', 5),
    ];

    expect(terminated(planReaping(settings, aboveFloor, now))).toEqual(['i-idle-long', 'i-idle']);
    expect(terminated(planReaping(settings, atFloor, now))).toEqual([]);
    expect(planReaping(settings, atFloor, now)).toContainEqual(
      expect.objectContaining({ action: 'keep', reason: 'scale-in floor: minWorkers 3' }),
    );
    for (const plan of [planReaping(settings, aboveFloor, now), planReaping(settings, atFloor, now)]) {
      expect(
        plan.filter((action) => action.verdict.kind === 'retire').map((action) => action.action),
      ).not.toContain('mark');
    }
    const workers = aboveFloor.map((entry) => entry.worker);
    expect(
      retirementCandidates(
        { rebalanceRetireAfterMinutes: 2, maxCapacity: 5, idle: settings },
        workers,
        new Set(),
        new Map(),
        now,
      ),
    ).toEqual([
      { worker: workers[3], reason: 'max-lifetime' },
      { worker: workers[2], reason: 'max-lifetime' },
    ]);
  });

  it('F13: a stale heartbeat that last said busy is unknown; most stale at once (over half, at least 2) holds the run', () => {
    const settings = {
      heartbeatTimeoutMinutes: 15,
      bootGraceMinutes: 10,
      terminateAfterMinutes: 10,
      minWorkers: 0,
    };
    /** A worker judged on its last heartbeat (idle unless `status`), written `beatMinutesAgo`; launched 2h ago. */
    const beating = (
      id: string,
      beatMinutesAgo: number,
      options: { young?: boolean; marked?: boolean; status?: HeartbeatStatus } = {},
    ) => {
      const launchTime = minutesAgo(options.young === true ? 5 : 120);
      const tags: Record<string, string> =
        options.marked === true ? { [TAG.idleSince]: minutesAgo(60).toISOString() } : {};
      const heartbeat = { at: minutesAgo(beatMinutesAgo), status: options.status ?? 'idle' };
      return {
        worker: workerWith({ instanceId: id, launchTime, tags }),
        verdict: judgeIdle(settings, { launchTime, heartbeat }, now),
      };
    };
    const fleet = (stale: number, fresh: number, young = 0) => [
      ...Array.from({ length: stale }, (_, index) => beating(`i-stale-${index}`, 30)),
      ...Array.from({ length: fresh }, (_, index) => beating(`i-fresh-${index}`, 1)),
      ...Array.from({ length: young }, (_, index) => beating(`i-young-${index}`, 1, { young: true })),
    ];
    const held = (judgedWorkers: JudgedWorker[]) => holdForStaleHeartbeats(settings, judgedWorkers)?.reason;

    expect(beating('i-quiet', 30).verdict).toMatchObject({ kind: 'idle', staleHeartbeat: true });
    expect(beating('i-quiet', 30, { status: 'busy' }).verdict).toMatchObject({
      kind: 'unknown',
      explanation: 'unknown: heartbeat 30m > 15m, last reported busy',
      staleHeartbeat: true,
    });
    expect(beating('i-quiet', 30, { status: 'draining' }).verdict.kind).toBe('unknown');

    expect(held(fleet(1, 0))).toBeUndefined();
    expect(held(fleet(2, 0))).toBe(
      'most heartbeats stale: 2 of 2 workers past boot grace have no heartbeat newer than 15m',
    );
    expect(held(fleet(3, 3))).toBeUndefined();
    expect(held(fleet(4, 3))).toMatch(/^most heartbeats stale: 4 of 7 /);
    expect(held(fleet(2, 1, 3))).toMatch(/^most heartbeats stale: 2 of 3 /);

    const due = beating('i-due', 30, { marked: true });
    const busyAgain = beating('i-busy-again', 1, { marked: true, status: 'busy' });
    const plan = planReaping(settings, [due, busyAgain, ...fleet(3, 2)], now);

    expect(plan.filter((action) => action.action === 'mark' || action.action === 'terminate')).toEqual([]);
    expect(plan.find((action) => action.worker.instanceId === 'i-busy-again')?.action).toBe('unmark');
    expect(plan.find((action) => action.worker.instanceId === 'i-due')).toMatchObject({
      action: 'keep',
      reason: 'held: most heartbeats stale: 4 of 7 workers past boot grace have no heartbeat newer than 15m',
    });
  });

  it('F14: with a max guard, CPU averages without maxima (none, or fewer) are unknown, never idle', () => {
    const settings: IdleSettings = {
      cpu: { belowPercent: 5, maxPercent: 20, windowMinutes: 15 },
      bootGraceMinutes: 10,
      terminateAfterMinutes: 10,
    };
    const judge = (maximum: number[]) =>
      judgeIdle(settings, { launchTime: minutesAgo(120), cpu: { average: [1, 1, 2], maximum } }, now);

    expect(judge([]).kind).toBe('unknown');
    expect(judge([3, 4]).kind).toBe('unknown');
    expect(judge([3, 4]).explanation).toBe('unknown: cpu 2%, 2 maxima for 3 averages');
    expect(judge([3, 4, 6]).kind).toBe('idle');
    const busyAverage = { launchTime: minutesAgo(120), cpu: { average: [1, 9], maximum: [] } };
    expect(judgeIdle(settings, busyAverage, now).kind).toBe('busy');
  });
});

describe('Events as AWS sends them', () => {
  it('F19: a Scheduler schedule without input (source aws.scheduler, detail "{}") is a scheduled run for launch and reap', () => {
    const event = sample('scheduler-schedule.json');

    expect(event).toMatchObject({ source: 'aws.scheduler', detail: '{}' });
    expect(parseLaunchTrigger(event, 'lambda-request-1')).toMatchObject({
      kind: 'schedule',
      id: '3f0c8a52-6d1e-4b7a-9c2f-2a5e8d7b1c40',
    });
    expect(parseReapRequest(event)).toEqual({});
  });
});
