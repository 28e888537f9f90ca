import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import type { Emulator, LambdaHandler } from '../../local/emulator';
import type { FleetWorld } from './fleet-world';
import { clientConfig } from './use-emulator';

/** The one fleet the CLI tests' deployment manages. */
export function cliFleets(world: FleetWorld) {
  return {
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [world.subnets[0]?.subnetId],
      market: 'spot',
      targetCapacity: 2,
      maxCapacity: 6,
      agent: { enabled: false },
      idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 0, terminateAfterMinutes: 10, minWorkers: 0 },
    },
  };
}

/**
 * A deployed stage as the CLI finds it: the launcher function, with the environment the stack gives it, and the
 * fleets in its configuration store.
 */
export async function deployLauncher(emulator: Emulator, world: FleetWorld, stage = 'test'): Promise<void> {
  const settings = clientConfig(emulator);
  await world.storeFleets(cliFleets(world));
  const role = await new IAMClient(settings).send(
    new CreateRoleCommand({ RoleName: 'launcher', AssumeRolePolicyDocument: '{}' }),
  );
  await new LambdaClient(settings).send(
    new CreateFunctionCommand({
      FunctionName: `worker-fleet-${stage}-launchWorkers`,
      Runtime: 'nodejs20.x',
      Role: role.Role?.Arn,
      Handler: 'launch-workers.handler',
      Code: { ZipFile: Buffer.from('PK\x05\x06'.padEnd(22, '\0'), 'binary') },
      Environment: { Variables: world.env() },
    }),
  );
}

/** What a deployed function's handler module exports. */
type HandlerModule = { readonly handler: (event: unknown, context: Context) => Promise<unknown> };

/** The functions the CLI invokes, by their name in serverless.yml, with their timeouts there (seconds). */
const INVOKED = {
  launchWorkers: { timeout: 60, load: () => import('../../src/handlers/launch-workers') },
  reapIdleWorkers: { timeout: 300, load: () => import('../../src/handlers/reap-idle-workers') },
} as const;

/**
 * Lets the CLI's invocations reach the stage's functions: the emulator answers `Invoke` by running the real handler
 * modules here, loaded as Lambda loads them (once the function's environment, this world's, is set; a fresh module
 * for each test, whose world is new), with a context whose remaining time counts down from the function's timeout.
 */
export function deployFunctions(emulator: Emulator, world: FleetWorld, stage = 'test'): void {
  Object.assign(process.env, { AWS_ENDPOINT_URL: emulator.endpoint, ...world.env() });
  const handlers = new Map<string, LambdaHandler>();
  for (const [fn, { timeout, load }] of Object.entries(INVOKED)) {
    let loaded: Promise<HandlerModule> | undefined;
    const loadOnce = () => {
      loaded ??= (async () => {
        let module: HandlerModule | undefined;
        await jest.isolateModulesAsync(async () => {
          module = await load();
        });
        if (module === undefined) throw new Error(`${fn}'s handler did not load`);
        return module;
      })();
      return loaded;
    };
    handlers.set(`worker-fleet-${stage}-${fn}`, async (event, { functionName, requestId }) => {
      const { handler } = await loadOnce();
      const deadline = Date.now() + timeout * 1000;
      const context = {
        functionName,
        awsRequestId: requestId,
        getRemainingTimeInMillis: () => deadline - Date.now(),
      } as Context;
      return handler(event, context);
    });
  }
  emulator.lambdaHandlers = handlers;
}
