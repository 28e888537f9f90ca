import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lambdaContext } from '../../local/lambda-context';
import { InvalidEventError } from '../../src/errors';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { createFleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
const context = lambdaContext('worker-fleet-test-handleSpotInterruption', 30_000, 'lambda-request-1');
const sample = (name: string) => JSON.parse(readFileSync(join(__dirname, '../../events', name), 'utf8'));

describe('handleSpotInterruption handler', () => {
  it('replaces the worker named in the warning sample, with clients built from the standard environment', async () => {
    const world = await createFleetWorld(emulator());
    const fleets = {
      batch: {
        ami: world.imageId,
        instanceTypes: ['c7g.large', 'm7g.large'],
        subnets: [world.subnets[0]?.subnetId],
        market: 'spot',
        targetCapacity: 1,
      },
    };
    const [launched] = await launchWorkers(world.deps(fleets), {
      kind: 'direct',
      id: 'setup',
      fleet: 'batch',
    });
    const instanceId = launched?.launched[0]?.instanceId ?? '';
    await world.storeFleets(fleets);
    Object.assign(process.env, { AWS_ENDPOINT_URL: emulator().endpoint, ...world.env() });
    // Loaded as Lambda loads it: once the function's environment is set (configuration and clients at init).
    const { handler } = await import('../../src/handlers/spot-interruption');
    const event = sample('spot-interruption-warning.json');
    event.time = new Date().toISOString();
    event.detail['instance-id'] = instanceId;

    const result = await handler(event, context);

    expect(result).toMatchObject({ status: 'replaced', instanceId, fleet: 'batch' });
    expect(await world.replacementsOf(instanceId)).toHaveLength(1);
  });

  it('rejects an event of another kind before any AWS call', async () => {
    const { handler } = await import('../../src/handlers/spot-interruption');
    emulator().requests.length = 0;

    await expect(handler(sample('launch-schedule.json'), context)).rejects.toThrow(InvalidEventError);
    expect(emulator().requests).toHaveLength(0);
  });
});
