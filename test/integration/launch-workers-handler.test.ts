import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lambdaContext } from '../../local/lambda-context';
import { InvalidEventError } from '../../src/errors';
import { TAG } from '../../src/model/tags';
import { deployedEnvironment } from './deployed-env';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
const context = lambdaContext('worker-fleet-test-launchWorkers', 60_000, 'lambda-request-1');
const sample = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '../../events', name), 'utf8'));

/**
 * The handler as Lambda loads it: its module (configuration and clients, built at init) is imported once the
 * function's environment is set, here a fleet world's. Later calls get the module already loaded.
 */
async function loadHandler() {
  const world = await deployedEnvironment(emulator());
  const { handler } = await import('../../src/handlers/launch-workers');
  return { world, handler };
}

describe('launchWorkers handler', () => {
  it('launches from the direct-invocation sample with clients built from the standard environment', async () => {
    const { world, handler } = await loadHandler();

    const results = await handler(sample('launch-direct.json'), context);

    expect(results).toMatchObject([{ fleet: 'batch', status: 'launched', desired: 1, capped: true }]);
    const instances = await world.instances({ tag: TAG.triggerId, value: 'manual-2026-11-25-0001' });
    expect(instances).toHaveLength(1);
    expect(instances[0]?.Tags).toContainEqual({ Key: TAG.launchReason, Value: 'direct' });
  });

  it('rejects a malformed event before any AWS call', async () => {
    const { handler } = await loadHandler();
    emulator().requests.length = 0;

    await expect(handler({ fleet: 'batch', count: 'two' }, context)).rejects.toThrow(InvalidEventError);
    expect(emulator().requests).toHaveLength(0);
  });
});
