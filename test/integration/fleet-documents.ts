import { MAX_USER_DATA_BYTES } from '../../src/model/fleet-spec';
import type { FleetWorld } from './fleet-world';

/** A small on-demand fleet of the world's AMI (x86_64) and first subnet, as an operator writes it: the account has all it names. */
export function fleetOf(world: FleetWorld, overrides: Record<string, unknown> = {}) {
  return {
    ami: world.imageId,
    instanceTypes: ['t3.small'],
    subnets: [world.subnets[0]?.subnetId],
    market: 'on-demand',
    targetCapacity: 1,
    ...overrides,
  };
}

/**
 * A fleet document of over 20 KB: one fleet with the 16 KB of user data EC2 allows (with shell `${…}` in it, which
 * must reach the store as written), one with 40 long tags.
 */
export function largeFleetDocument(world: FleetWorld) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell user data, not a template
  const line = 'echo "${HOME}" # padding to the limit\n';
  const userData = `#!/bin/bash\n${line.repeat(600)}`.slice(0, MAX_USER_DATA_BYTES);
  const tags = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'.repeat(80)]));
  return { batch: fleetOf(world, { userData }), nightly: fleetOf(world, { tags }) };
}
