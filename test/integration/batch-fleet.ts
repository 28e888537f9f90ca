import { launchWorkers } from '../../src/fleet/launch-workers';
import type { FleetWorld } from './fleet-world';

/** What the tests that use fleet 'batch' differ in: its size and how long its workers have to drain. */
export interface BatchFleetDefaults {
  targetCapacity: number;
  drainGraceMinutes: number;
}

/**
 * The fleets document of one on-demand fleet 'batch' in the world's first subnet, judged idle by its heartbeat:
 * `defaults` as the test file wants it, `overrides` over the fleet's settings and `idle` over its idle settings.
 */
export function batchFleets(
  world: FleetWorld,
  defaults: BatchFleetDefaults,
  overrides: Record<string, unknown> = {},
  idle: Record<string, unknown> = {},
) {
  return {
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [world.subnets[0]?.subnetId],
      market: 'on-demand',
      targetCapacity: defaults.targetCapacity,
      drainGraceMinutes: defaults.drainGraceMinutes,
      idle: {
        heartbeatTimeoutMinutes: 15,
        bootGraceMinutes: 0,
        terminateAfterMinutes: 10,
        minWorkers: 0,
        ...idle,
      },
      ...overrides,
    },
  };
}

/** Launches `target` workers of a fleet of `spec` by a direct request `id`; returns their instance ids. */
export async function launchBatch(
  world: FleetWorld,
  spec: Record<string, unknown>,
  target: number,
  id: string,
  fleet = 'batch',
): Promise<string[]> {
  const [result] = await launchWorkers(world.deps(spec), { kind: 'direct', id, fleet, target });
  return (result?.launched ?? []).map((worker) => worker.instanceId);
}
