import { judgeIdle, type WorkerSignals } from '../../../src/fleet/idle-policy';
import type { IdleSettings } from '../../../src/model/fleet-spec';

const now = new Date('2026-11-25T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000);
const base: IdleSettings = {
  heartbeatTimeoutMinutes: 15,
  bootGraceMinutes: 10,
  terminateAfterMinutes: 10,
  minWorkers: 0,
};
const cpu = { belowPercent: 5, maxPercent: 20, windowMinutes: 15 };
const old = { launchTime: minutesAgo(120) };

describe('judgeIdle: lifetime', () => {
  it.each([
    ['inside the boot grace', { launchTime: minutesAgo(9) }, 'young', 'young: age 9m < 10m boot grace'],
    [
      'at the end of the boot grace',
      { launchTime: minutesAgo(10), heartbeat: { at: minutesAgo(1), status: 'busy' as const } },
      'busy',
      'busy: heartbeat reports busy 1m ago',
    ],
    ['with no launch time', {}, 'young', 'young: age unknown < 10m boot grace'],
  ])('%s', (_name, signals: WorkerSignals, kind, explanation) => {
    expect(judgeIdle(base, signals, now)).toMatchObject({ kind, explanation });
  });

  it.each([
    ['past', 25 * 60, 'retire: age 25h ≥ 24h', '1500m'],
    ['exactly at', 24 * 60, 'retire: age 24h ≥ 24h', '1440m'],
  ])('retires a worker %s its max lifetime, whatever it reports', (_when, minutes, explanation, age) => {
    const verdict = judgeIdle(
      { ...base, maxLifetimeHours: 24 },
      { launchTime: minutesAgo(minutes), heartbeat: { at: now, status: 'busy' } },
      now,
    );

    expect(verdict).toEqual({ kind: 'retire', rule: 'max-lifetime', explanation, signals: { age } });
  });

  it('names the boot grace and the age of a young worker', () => {
    expect(judgeIdle(base, { launchTime: minutesAgo(3) }, now)).toEqual({
      kind: 'young',
      rule: 'boot-grace',
      explanation: 'young: age 3m < 10m boot grace',
      signals: { age: '3m' },
    });
  });

  it('does not retire a worker younger than its max lifetime', () => {
    expect(
      judgeIdle(
        { ...base, maxLifetimeHours: 24 },
        { launchTime: minutesAgo(23 * 60), heartbeat: { at: now, status: 'busy' } },
        now,
      ).kind,
    ).toBe('busy');
  });
});

describe('judgeIdle: heartbeat', () => {
  it.each([
    ['no heartbeat', undefined, 'unknown', 'unknown: no heartbeat'],
    [
      'a fresh heartbeat it could not read',
      { at: minutesAgo(2), unreadable: 'InvalidObjectState' },
      'unknown',
      'unknown: heartbeat unreadable (InvalidObjectState)',
    ],
    [
      'a stale heartbeat it could not read',
      { at: minutesAgo(34), status: 'idle' as const, unreadable: 'AccessDenied' },
      'unknown',
      'unknown: heartbeat unreadable (AccessDenied)',
    ],
    ['a heartbeat older than the timeout', { at: minutesAgo(34) }, 'idle', 'idle: heartbeat 34m > 15m'],
    [
      'a busy heartbeat older than the timeout',
      { at: minutesAgo(16), status: 'busy' as const },
      'unknown',
      'unknown: heartbeat 16m > 15m, last reported busy',
    ],
    ['a heartbeat exactly at the timeout', { at: minutesAgo(15) }, 'busy', 'busy: heartbeat 15m ≤ 15m'],
    [
      'a fresh heartbeat reporting idle',
      { at: minutesAgo(2), status: 'idle' as const },
      'idle',
      'idle: heartbeat reports idle 2m ago',
    ],
    [
      'a fresh heartbeat reporting busy',
      { at: minutesAgo(2), status: 'busy' as const },
      'busy',
      'busy: heartbeat reports busy 2m ago',
    ],
    [
      'a fresh heartbeat reporting draining',
      { at: minutesAgo(2), status: 'draining' as const },
      'busy',
      'busy: heartbeat reports draining 2m ago',
    ],
    ['a fresh heartbeat without status', { at: minutesAgo(2) }, 'busy', 'busy: heartbeat 2m ≤ 15m'],
  ])('judges %s', (_name, heartbeat, kind, explanation) => {
    expect(judgeIdle(base, { ...old, heartbeat }, now)).toMatchObject({ kind, explanation });
  });
});

describe('judgeIdle: cpu', () => {
  const settings: IdleSettings = { ...base, heartbeatTimeoutMinutes: undefined, cpu };
  it.each([
    ['no datapoints', { average: [], maximum: [] }, 'unknown', 'unknown: no cpu data'],
    ['every datapoint low', { average: [1.2, 0.5, 3], maximum: [4, 2, 6] }, 'idle', 'idle: cpu 3% < 5%'],
    [
      'one datapoint at the threshold',
      { average: [1, 5, 1], maximum: [2, 6, 2] },
      'busy',
      'busy: cpu 5% ≥ 5%',
    ],
    [
      'a burst above the max guard',
      { average: [1, 4, 1], maximum: [2, 35, 2] },
      'busy',
      'busy: cpu peak 35% ≥ 20%',
    ],
  ])('judges %s', (_name, data, kind, explanation) => {
    expect(judgeIdle(settings, { ...old, cpu: data }, now)).toMatchObject({ kind, explanation });
  });

  it('judges busy a burst exactly at the max guard', () => {
    expect(judgeIdle(settings, { ...old, cpu: { average: [1], maximum: [2, 20] } }, now)).toMatchObject({
      kind: 'busy',
      explanation: 'busy: cpu peak 20% ≥ 20%',
    });
  });

  it('has no data without a cpu signal', () => {
    expect(judgeIdle(settings, old, now)).toMatchObject({ kind: 'unknown', rule: 'cpu' });
  });

  it.each([
    ['low network', [100, 200], 'idle', 'idle: cpu 1% < 5%'],
    ['busy network', [100, 5_000_000], 'busy', 'busy: network 5000000 B ≥ 1000000 B'],
    ['network exactly at the threshold', [1_000_000], 'busy', 'busy: network 1000000 B ≥ 1000000 B'],
    ['no network data', [], 'unknown', 'unknown: cpu 1%, no network data'],
    ['no network signal at all', undefined, 'unknown', 'unknown: cpu 1%, no network data'],
  ])('with a network threshold judges %s', (_name, networkBytes, kind, explanation) => {
    const withNetwork = { ...settings, cpu: { ...cpu, networkBelowBytes: 1_000_000 } };

    expect(
      judgeIdle(withNetwork, { ...old, cpu: { average: [1], maximum: [2] }, networkBytes }, now),
    ).toMatchObject({ kind, explanation });
  });
});

describe('judgeIdle: signals together', () => {
  const both: IdleSettings = { ...base, cpu };
  const idleCpu = { average: [1], maximum: [2] };
  const busyCpu = { average: [50], maximum: [70] };
  const staleBeat = { at: minutesAgo(30) };
  const freshBeat = { at: minutesAgo(1), status: 'busy' as const };

  it.each([
    ['both idle', staleBeat, idleCpu, 'idle', 'heartbeat+cpu', 'idle: heartbeat 30m > 15m, cpu 1% < 5%'],
    ['heartbeat idle, cpu busy', staleBeat, busyCpu, 'busy', 'cpu', 'busy: cpu 50% ≥ 5%'],
    [
      'heartbeat busy, cpu idle',
      freshBeat,
      idleCpu,
      'busy',
      'heartbeat',
      'busy: heartbeat reports busy 1m ago',
    ],
    [
      'heartbeat idle, cpu missing',
      staleBeat,
      { average: [], maximum: [] },
      'unknown',
      'cpu',
      'unknown: no cpu data',
    ],
    ['heartbeat missing, cpu busy', undefined, busyCpu, 'busy', 'cpu', 'busy: cpu 50% ≥ 5%'],
    [
      'both busy',
      freshBeat,
      busyCpu,
      'busy',
      'heartbeat+cpu',
      'busy: heartbeat reports busy 1m ago, cpu 50% ≥ 5%',
    ],
    [
      'both missing',
      undefined,
      { average: [], maximum: [] },
      'unknown',
      'heartbeat+cpu',
      'unknown: no heartbeat, no cpu data',
    ],
  ])('%s', (_name, heartbeat, cpuData, kind, rule, explanation) => {
    expect(judgeIdle(both, { ...old, heartbeat, cpu: cpuData }, now)).toMatchObject({
      kind,
      rule,
      explanation,
    });
  });

  it('never calls a worker idle when no signal is configured', () => {
    const none: IdleSettings = { ...base, heartbeatTimeoutMinutes: undefined };

    expect(judgeIdle(none, old, now)).toEqual({
      kind: 'unknown',
      rule: 'no-signal',
      explanation: 'unknown: no idle signal configured',
      signals: { age: '120m' },
    });
  });

  it('lists every signal value for the log line', () => {
    expect(judgeIdle(both, { ...old, heartbeat: staleBeat, cpu: idleCpu }, now).signals).toEqual({
      age: '120m',
      heartbeat: 'heartbeat 30m > 15m',
      cpu: 'cpu 1% < 5%',
    });
  });
});
