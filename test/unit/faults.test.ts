import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLaunchTrigger } from '../../src/events/launch';
import { parseReapRequest } from '../../src/events/reap';
import { judgeIdle } from '../../src/fleet/idle-policy';
import type { IdleSettings } from '../../src/model/fleet-spec';

/** Issue 17's fault matrix, the rows that need no emulator: one test per row, named by the row. */

const sample = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '../../events', name), 'utf8'));

const now = new Date('2026-11-25T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);

describe('Idle reaping', () => {
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
    expect(parseLaunchTrigger(event, 'lambda-request-1')).toEqual({
      kind: 'schedule',
      id: '3f0c8a52-6d1e-4b7a-9c2f-2a5e8d7b1c40',
    });
    expect(parseReapRequest(event)).toEqual({});
  });
});
