import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Emulator } from '../../local/emulator';
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
      Environment: { Variables: world.env(cliFleets(world)) },
    }),
  );
}
