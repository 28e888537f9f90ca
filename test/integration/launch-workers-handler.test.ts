import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lambdaContext } from '../../local/lambda-context';
import { InvalidEventError } from '../../src/errors';
import { launchWorkers } from '../../src/fleet/launch-workers';
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

  it('records the workers the AWS Health sample names, once, and ignores an instance EC2 does not know', async () => {
    const { world, handler } = await loadHandler();
    // Launched by the core with this world's fleets: the handler's module keeps the first test's configuration.
    const batch = {
      ami: world.imageId,
      instanceTypes: ['t4g.small'],
      subnets: [world.subnets[0]?.subnetId],
      market: 'on-demand',
      targetCapacity: 1,
    };
    const [launched] = await launchWorkers(world.deps({ batch }), {
      kind: 'direct',
      id: 'setup',
      fleet: 'batch',
    });
    const worker = launched?.launched[0]?.instanceId ?? '';
    const health = sample('health-scheduled-change.json') as { detail: { affectedEntities: object[] } };
    const [, unknown] = health.detail.affectedEntities;
    const event = {
      ...health,
      detail: {
        ...health.detail,
        affectedEntities: [{ entityValue: `arn:aws:ec2:us-east-1:123456789012:instance/${worker}` }, unknown],
      },
    };

    const first = await handler(event, context);
    const redelivered = await handler(event, context);

    expect(first).toEqual({
      status: 'recorded',
      eventArn: expect.stringContaining('AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED'),
      recorded: [{ instanceId: worker, fleet: 'batch' }],
      known: [],
      ignored: [{ instanceId: 'i-0fedcba0987654321', reason: 'EC2 does not know it' }],
    });
    expect(redelivered).toMatchObject({ recorded: [], known: [worker] });
  });

  it('rejects a malformed event before any AWS call', async () => {
    const { handler } = await loadHandler();
    emulator().requests.length = 0;

    await expect(handler({ fleet: 'batch', count: 'two' }, context)).rejects.toThrow(InvalidEventError);
    expect(emulator().requests).toHaveLength(0);
  });
});
