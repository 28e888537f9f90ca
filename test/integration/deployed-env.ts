import type { Emulator } from '../../local/emulator';
import { createFleetWorld, type FleetWorld } from './fleet-world';

/**
 * A fleet world with one small on-demand fleet in its fleet configuration store, and its environment set as a deployed function has it (the
 * emulator's endpoint included): what a handler module needs before it is imported, since it builds its
 * configuration and clients at init.
 */
export async function deployedEnvironment(emulator: Emulator): Promise<FleetWorld> {
  const world = await createFleetWorld(emulator);
  const { fleets } = world.config({
    batch: {
      ami: world.imageId,
      instanceTypes: ['t4g.small'],
      subnets: [world.subnets[0]?.subnetId],
      market: 'on-demand',
      targetCapacity: 1,
    },
  });
  await world.storeFleets(fleets);
  Object.assign(process.env, { AWS_ENDPOINT_URL: emulator.endpoint, ...world.env() });
  return world;
}
