import type { FleetState, PoolEventRecord } from '../model/fleet-state';
import type { Pool, PoolEventKind } from '../model/pool';

/**
 * Records what pools did, one item per event keyed by what it is about (the interrupted instance): a retry, or a
 * terminated event that follows a handled warning, counts an interruption once.
 */
export async function recordPoolEvents(
  state: FleetState,
  events: readonly { pool: Pick<Pool, 'instanceType' | 'subnetId'>; kind: PoolEventKind; id: string }[],
  now: Date,
): Promise<number> {
  if (events.length === 0) return 0;
  const at = now.toISOString();
  return state.recordPoolEvents(
    events.map(
      ({ pool, kind, id }): PoolEventRecord => ({
        pool: { instanceType: pool.instanceType, subnetId: pool.subnetId },
        kind,
        id,
        at,
      }),
    ),
    now,
  );
}
