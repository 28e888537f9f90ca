import type { PoolEventRecord } from '../model/fleet-state';
import { type Pool, type PoolEvent, type PoolEventKind, type PoolMemory, placementKey } from '../model/pool';

export interface PoolRisk {
  /** Decayed weight of the pool's events: one fresh interruption or capacity error is 1. */
  readonly score: number;
  /** Why, for logs and the CLI: "1 interruption, 2 capacity errors in the last 24h". */
  readonly reason: string;
}

/** An event loses half its weight every six hours: a pool that hurt us this morning is fine again tomorrow. */
export const HALF_LIFE_MS = 6 * 60 * 60 * 1000;
/** Pools at or above this score are tried after every other pool of their market. */
export const RISKY_SCORE = 0.5;
const WEIGHT: Readonly<Record<PoolEventKind, number>> = {
  interruption: 1,
  'capacity-error': 1,
  rebalance: 0.5,
};
const FORGET_AFTER_MS = 7 * 24 * 60 * 60 * 1000;
const MAX_EVENTS_PER_POOL = 20;

export const EMPTY_POOL_MEMORY: PoolMemory = { pools: {} };

/** Adds events to the memory and forgets what is too old to matter. Pure. */
export function rememberPoolEvents(
  memory: PoolMemory | undefined,
  events: readonly { pool: Pick<Pool, 'instanceType' | 'subnetId'>; kind: PoolEventKind }[],
  now: Date,
): PoolMemory {
  const pools: Record<string, PoolEvent[]> = {};
  for (const [key, kept] of Object.entries(memory?.pools ?? {})) pools[key] = [...kept];
  for (const { pool, kind } of events) {
    const key = placementKey(pool);
    pools[key] = [...(pools[key] ?? []), { kind, at: now.toISOString() }];
  }
  for (const [key, kept] of Object.entries(pools)) {
    const recent = kept
      .filter((event) => now.getTime() - Date.parse(event.at) < FORGET_AFTER_MS)
      .slice(-MAX_EVENTS_PER_POOL);
    if (recent.length > 0) pools[key] = recent;
    else delete pools[key];
  }
  return { pools };
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** Each remembered pool's decayed score and a readable reason. Pure. */
export function poolRisks(memory: PoolMemory | undefined, now: Date): Map<string, PoolRisk> {
  const risks = new Map<string, PoolRisk>();
  for (const [key, events] of Object.entries(memory?.pools ?? {})) {
    let score = 0;
    const counts: Record<PoolEventKind, number> = { interruption: 0, rebalance: 0, 'capacity-error': 0 };
    let oldest = now.getTime();
    for (const event of events) {
      const at = Date.parse(event.at);
      score += WEIGHT[event.kind] * 0.5 ** (Math.max(0, now.getTime() - at) / HALF_LIFE_MS);
      counts[event.kind] += 1;
      oldest = Math.min(oldest, at);
    }
    const parts = [
      counts.interruption > 0 ? plural(counts.interruption, 'interruption') : '',
      counts['capacity-error'] > 0 ? plural(counts['capacity-error'], 'capacity error') : '',
      counts.rebalance > 0 ? plural(counts.rebalance, 'rebalance recommendation') : '',
    ].filter((part) => part !== '');
    const hours = Math.max(1, Math.ceil((now.getTime() - oldest) / 3_600_000));
    risks.set(key, {
      score: Math.round(score * 100) / 100,
      reason: `${parts.join(', ')} in the last ${hours}h`,
    });
  }
  return risks;
}

/**
 * Moves risky spot pools behind the other pools of the same market, keeping the order otherwise (so the spread over
 * subnets and the fleet's instance-type preference still hold). On-demand pools are never reordered. Pure.
 */
export function orderByRisk(pools: readonly Pool[], risks: ReadonlyMap<string, PoolRisk>): Pool[] {
  const risky = (pool: Pool) =>
    pool.market === 'spot' && (risks.get(placementKey(pool))?.score ?? 0) >= RISKY_SCORE;
  const rank = (pool: Pool) => (pool.market === 'spot' ? 0 : 2) + (risky(pool) ? 1 : 0);
  return pools
    .map((pool, index) => ({ pool, index }))
    .sort((a, b) => rank(a.pool) - rank(b.pool) || a.index - b.index)
    .map(({ pool }) => pool);
}

/** The memory the stored pool events make: one list of events per placement. Pure. */
export function poolMemoryOf(events: readonly PoolEventRecord[]): PoolMemory {
  const pools: Record<string, PoolEvent[]> = {};
  for (const event of events) {
    const key = placementKey(event.pool);
    pools[key] = [...(pools[key] ?? []), { kind: event.kind, at: event.at }];
  }
  return { pools };
}
