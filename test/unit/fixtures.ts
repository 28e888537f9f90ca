import { configWithFleets } from '../../local/deployment-env';
import type { Config } from '../../src/config';
import type { Worker } from '../../src/model/worker';

/** A fleet spec as a user writes it (JSON), valid unless a test overrides a field. */
export function fleetJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ami: 'ami-0123456789abcdef0',
    instanceTypes: ['c7g.large', 'm7g.large'],
    subnets: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
    market: 'spot',
    targetCapacity: 2,
    ...overrides,
  };
}

/**
 * The configuration the core gets: the environment's settings (envWith) and the fleets, as the fleet configuration
 * store's reader parses them; by default one fleet, `batch`, of fleetJson.
 */
export function configWith(
  env: Record<string, string | undefined> = envWith(),
  fleets: Record<string, unknown> = { batch: fleetJson() },
): Config {
  return configWithFleets(env, fleets);
}

/** The environment of a deployed function (its fleets are in the store, not here), valid unless a test overrides a variable. */
export function envWith(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    WORKER_FLEET_STAGE: 'dev',
    WORKER_FLEET_INSTANCE_PROFILE: 'worker-fleet-dev-worker',
    WORKER_FLEET_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:worker-fleet-dev',
    AWS_REGION: 'us-east-1',
    WORKER_FLEET_STATE_BUCKET: 'worker-fleet-dev-state',
    WORKER_FLEET_STATE_TABLE: 'worker-fleet-dev-state',
    WORKER_FLEET_FLEET_BUCKET: 'worker-fleet-dev-fleet',
    WORKER_FLEET_LOG_BUCKET: 'worker-fleet-dev-logs',
    WORKER_FLEET_WORKER_ROLE: 'worker-fleet-dev-worker',
    WORKER_FLEET_WORKER_ROLE_ID: 'AROAEXAMPLEWORKER0001',
    ...overrides,
  };
}

/** The ARN of envWith()'s worker instance profile, as EC2 describes it on a worker (`IamInstanceProfile.Arn`). */
export const WORKER_PROFILE_ARN = 'arn:aws:iam::123456789012:instance-profile/worker-fleet-dev-worker';

/** A running spot worker as listFleetWorkers gives it, untagged unless a test overrides a field. */
export function workerWith(overrides: Partial<Worker> & Pick<Worker, 'instanceId'>): Worker {
  return {
    instanceType: 'c7g.large',
    subnetId: 'subnet-a',
    availabilityZone: 'us-east-1a',
    state: 'running',
    market: 'spot',
    tags: {},
    ...overrides,
  };
}
