import type { IdleSettings } from '../model/fleet-spec';
import type { Heartbeat } from '../model/heartbeat';

/** Everything the policy looks at for one worker. Absent means "no data", which is never "idle". */
export interface WorkerSignals {
  readonly launchTime?: Date;
  readonly heartbeat?: Heartbeat;
  /** One value per period in the window, oldest first; an empty list is no data. */
  readonly cpu?: { readonly average: readonly number[]; readonly maximum: readonly number[] };
  /** Network in + out bytes per period in the window. */
  readonly networkBytes?: readonly number[];
}

/**
 * - `retire`: older than maxLifetimeHours, whatever it reports; retired as the minWorkers floor allows (reap-plan);
 * - `young`: inside the boot grace, never idle;
 * - `idle`: every configured signal says idle;
 * - `busy`: at least one signal says busy;
 * - `unknown`: no signal says busy, but at least one has no data (or none is configured).
 */
export type VerdictKind = 'retire' | 'young' | 'idle' | 'busy' | 'unknown';

export interface Verdict {
  readonly kind: VerdictKind;
  /** The rule that decided, short and stable, used as the idle-reason tag: heartbeat, cpu, heartbeat+cpu, ... */
  readonly rule: string;
  /** The explanation, one line: "idle: heartbeat 34m > 15m, cpu max 1.2% < 5%". */
  readonly explanation: string;
  /** Every signal's value, for the structured log line. */
  readonly signals: Readonly<Record<string, string>>;
  /**
   * True when the worker is past its boot grace and its last heartbeat is older than the timeout, whatever the
   * verdict: a run in which most heartbeats are stale is held (see reap-plan's holdForStaleHeartbeats).
   */
  readonly staleHeartbeat?: boolean;
}

type SignalVote = { readonly vote: 'idle' | 'busy' | 'unknown'; readonly text: string };

const minutesText = (ms: number) => `${Math.floor(ms / 60_000)}m`;
const hoursText = (ms: number) => `${Math.floor(ms / 3_600_000)}h`;
const percent = (value: number) => `${Math.round(value * 10) / 10}%`;

/** A heartbeat older than the timeout: the worker has gone quiet. */
const isStale = (timeoutMinutes: number, heartbeat: { readonly at: Date }, now: Date) =>
  now.getTime() - heartbeat.at.getTime() > timeoutMinutes * 60_000;

function heartbeatVote(timeoutMinutes: number, heartbeat: WorkerSignals['heartbeat'], now: Date): SignalVote {
  if (heartbeat === undefined) return { vote: 'unknown', text: 'no heartbeat' };
  // Written by the worker, so its own to spoil: an unreadable heartbeat is neither idle nor busy, fresh or not.
  if (heartbeat.unreadable !== undefined) {
    return { vote: 'unknown', text: `heartbeat unreadable (${heartbeat.unreadable})` };
  }
  const age = now.getTime() - heartbeat.at.getTime();
  if (isStale(timeoutMinutes, heartbeat, now)) {
    const text = `heartbeat ${minutesText(age)} > ${timeoutMinutes}m`;
    // Its last word was that it was working: silence since then may be its agent, S3 or IAM failing, not the end of
    // the work. Only a worker whose last word was idle (or no status) is idle when it goes quiet.
    return heartbeat.status === 'busy' || heartbeat.status === 'draining' || heartbeat.status === 'drained'
      ? { vote: 'unknown', text: `${text}, last reported ${heartbeat.status}` }
      : { vote: 'idle', text };
  }
  switch (heartbeat.status) {
    case 'idle':
      return { vote: 'idle', text: `heartbeat reports idle ${minutesText(age)} ago` };
    case 'draining':
    case 'drained':
      // On its way out (a retirement or a spot notice): the graceful path ends it, never the idle verdict.
      return { vote: 'busy', text: `heartbeat reports ${heartbeat.status} ${minutesText(age)} ago` };
    case 'busy':
      return { vote: 'busy', text: `heartbeat reports busy ${minutesText(age)} ago` };
    default:
      return { vote: 'busy', text: `heartbeat ${minutesText(age)} ≤ ${timeoutMinutes}m` };
  }
}

function cpuVote(settings: NonNullable<IdleSettings['cpu']>, signals: WorkerSignals): SignalVote {
  const average = signals.cpu?.average ?? [];
  const maximum = signals.cpu?.maximum ?? [];
  if (average.length === 0) return { vote: 'unknown', text: 'no cpu data' };
  const highestAverage = Math.max(...average);
  if (highestAverage >= settings.belowPercent) {
    return { vote: 'busy', text: `cpu ${percent(highestAverage)} ≥ ${settings.belowPercent}%` };
  }
  if (settings.maxPercent !== undefined) {
    // The guard judges every period the averages cover: a period without its maximum could hide a burst.
    if (maximum.length < average.length) {
      return {
        vote: 'unknown',
        text: `cpu ${percent(highestAverage)}, ${maximum.length} maxima for ${average.length} averages`,
      };
    }
    const peak = Math.max(...maximum);
    if (peak >= settings.maxPercent) {
      return { vote: 'busy', text: `cpu peak ${percent(peak)} ≥ ${settings.maxPercent}%` };
    }
  }
  if (settings.networkBelowBytes !== undefined) {
    const bytes = signals.networkBytes ?? [];
    if (bytes.length === 0)
      return { vote: 'unknown', text: `cpu ${percent(highestAverage)}, no network data` };
    const most = Math.max(...bytes);
    if (most >= settings.networkBelowBytes) {
      return { vote: 'busy', text: `network ${most} B ≥ ${settings.networkBelowBytes} B` };
    }
  }
  return { vote: 'idle', text: `cpu ${percent(highestAverage)} < ${settings.belowPercent}%` };
}

/**
 * Judges one worker. Pure: the same settings, signals and clock give the same verdict. Missing data is never idle;
 * a worker with no signal configured is never idle (only max lifetime retires it). A heartbeat older than the
 * timeout is idle only if its last status was `idle` (or none); a stale `busy` or `draining` is unknown.
 */
export function judgeIdle(settings: IdleSettings, signals: WorkerSignals, now: Date): Verdict {
  const verdict = judgeSignals(settings, signals, now);
  const { heartbeatTimeoutMinutes: timeout } = settings;
  const stale =
    timeout !== undefined && signals.heartbeat !== undefined && isStale(timeout, signals.heartbeat, now);
  return stale && verdict.kind !== 'young' ? { ...verdict, staleHeartbeat: true } : verdict;
}

function judgeSignals(settings: IdleSettings, signals: WorkerSignals, now: Date): Verdict {
  const age = signals.launchTime === undefined ? undefined : now.getTime() - signals.launchTime.getTime();
  const ageText = age === undefined ? 'unknown' : minutesText(age);
  if (
    age !== undefined &&
    settings.maxLifetimeHours !== undefined &&
    age >= settings.maxLifetimeHours * 3_600_000
  ) {
    return {
      kind: 'retire',
      rule: 'max-lifetime',
      explanation: `retire: age ${hoursText(age)} ≥ ${settings.maxLifetimeHours}h`,
      signals: { age: ageText },
    };
  }
  if (age === undefined || age < settings.bootGraceMinutes * 60_000) {
    return {
      kind: 'young',
      rule: 'boot-grace',
      explanation: `young: age ${ageText} < ${settings.bootGraceMinutes}m boot grace`,
      signals: { age: ageText },
    };
  }
  const votes: [string, SignalVote][] = [];
  if (settings.heartbeatTimeoutMinutes !== undefined) {
    votes.push(['heartbeat', heartbeatVote(settings.heartbeatTimeoutMinutes, signals.heartbeat, now)]);
  }
  if (settings.cpu !== undefined) votes.push(['cpu', cpuVote(settings.cpu, signals)]);

  const signalTexts = Object.fromEntries([
    ['age', ageText],
    ...votes.map(([name, { text }]) => [name, text]),
  ]);
  const busy = votes.filter(([, { vote }]) => vote === 'busy');
  if (busy.length > 0) {
    return {
      kind: 'busy',
      rule: busy.map(([name]) => name).join('+'),
      explanation: `busy: ${busy.map(([, { text }]) => text).join(', ')}`,
      signals: signalTexts,
    };
  }
  const unknown = votes.filter(([, { vote }]) => vote === 'unknown');
  if (votes.length === 0 || unknown.length > 0) {
    return {
      kind: 'unknown',
      rule: votes.length === 0 ? 'no-signal' : unknown.map(([name]) => name).join('+'),
      explanation:
        votes.length === 0
          ? 'unknown: no idle signal configured'
          : `unknown: ${unknown.map(([, { text }]) => text).join(', ')}`,
      signals: signalTexts,
    };
  }
  return {
    kind: 'idle',
    rule: votes.map(([name]) => name).join('+'),
    explanation: `idle: ${votes.map(([, { text }]) => text).join(', ')}`,
    signals: signalTexts,
  };
}
