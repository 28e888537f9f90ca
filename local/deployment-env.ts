import { validateFleetConfig } from '../src/aws/fleet-config-store';
import { type Config, loadSettings, withFleets } from '../src/config';

/**
 * The environment serverless.yml gives a deployed stage's functions (provider.environment), for the tests and
 * benchmarks that run the core outside Lambda against resources they created themselves. It holds no fleets: the
 * functions read them from the fleet configuration store (tests and benchmarks that run handlers write it there).
 */
export interface DeploymentResources {
  readonly stage: string;
  readonly instanceProfile: string;
  readonly topicArn: string;
  readonly stateBucket: string;
  readonly stateTable: string;
  readonly fleetBucket: string;
  readonly logBucket: string;
  readonly workerRole: string;
  /** The worker role's unique id (`AROA…`): heartbeats are written under `<role-id>:<instance-id>`. */
  readonly workerRoleId: string;
}

export function deploymentEnv(resources: DeploymentResources): Record<string, string> {
  return {
    WORKER_FLEET_STAGE: resources.stage,
    WORKER_FLEET_INSTANCE_PROFILE: resources.instanceProfile,
    WORKER_FLEET_TOPIC_ARN: resources.topicArn,
    WORKER_FLEET_STATE_BUCKET: resources.stateBucket,
    WORKER_FLEET_STATE_TABLE: resources.stateTable,
    WORKER_FLEET_FLEET_BUCKET: resources.fleetBucket,
    WORKER_FLEET_LOG_BUCKET: resources.logBucket,
    WORKER_FLEET_WORKER_ROLE: resources.workerRole,
    WORKER_FLEET_WORKER_ROLE_ID: resources.workerRoleId,
  };
}

/**
 * The configuration the core gets from a handler: the environment's settings, and these fleets as the fleet
 * configuration store's reader parses a stored document (validateFleetConfig: defaults filled in, a bad fleet
 * refused), for the tests and benchmarks that call the core directly.
 */
export function configWithFleets(
  env: Readonly<Record<string, string | undefined>>,
  fleets: Record<string, unknown>,
): Config {
  return withFleets(loadSettings(env), validateFleetConfig(fleets));
}

/** The benchmarks' buckets and role: names they create in the emulator themselves. */
export const BENCH_RESOURCES = {
  stage: 'bench',
  stateBucket: 'bench-state',
  stateTable: 'bench-state',
  fleetBucket: 'bench-fleet',
  logBucket: 'bench-logs',
  workerRole: 'bench-worker',
  workerRoleId: 'AROABENCHWORKER000000',
} as const;

/** The configuration the benchmarks' core runs with: their resources, a topic, and these fleets. */
export function benchConfig(topicArn: string, fleets: Record<string, unknown>): Config {
  return configWithFleets(
    { ...deploymentEnv({ ...BENCH_RESOURCES, instanceProfile: 'bench', topicArn }), AWS_REGION: 'us-east-1' },
    fleets,
  );
}

/**
 * What a packaged function's process has when it starts: the packaged environment's literal values (the fleets),
 * names for what the template references (buckets, topic, role), a region and credentials. Loading a handler with
 * it builds the configuration and clients as at init; nothing calls AWS.
 */
export function packagedFunctionEnv(packaged: Readonly<Record<string, unknown>>): Record<string, string> {
  const literal = Object.entries(packaged).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  return {
    ...deploymentEnv({
      ...BENCH_RESOURCES,
      instanceProfile: 'bench-worker',
      topicArn: 'arn:aws:sns:us-east-1:000000000000:bench',
    }),
    ...Object.fromEntries(literal),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}
