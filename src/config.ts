import { ConfigError, UnknownFleetError } from './errors';
import type { FleetSpec } from './model/fleet-spec';

/**
 * Everything worker-fleet reads from its environment, parsed once and never mutated. The fleets are not there: the
 * functions read them from the fleet configuration store (src/aws/fleet-config-store.ts) and make a Config of both.
 */
export interface Settings {
  readonly stage: string;
  /** Value of the managed-by tag: the ownership mark of this deployment (`worker-fleet-<stage>`). */
  readonly managedBy: string;
  /** The instance profile workers carry, by name (a `Ref`, which `serverless invoke local` can resolve). */
  readonly instanceProfile: string;
  readonly topicArn: string;
  /** worker-fleet's own bucket: the fleet configuration store; workers cannot reach it. */
  readonly stateBucket: string;
  /** The control plane's state (facts, leases, intents, claims, registry, pool memory); workers cannot reach it. */
  readonly stateTable: string;
  /** The bucket workers use: heartbeats/, notices/ and results/ under their own `<role-id>:<instance-id>`. */
  readonly fleetBucket: string;
  /** Where S3 delivers the buckets' server access logs (the fleet bucket's under `fleet/`). */
  readonly logBucket: string;
  /** The role workers carry: its sessions (`assumed-role/<role>/<instance-id>`) are workers' accesses. */
  readonly workerRoleName: string;
  /**
   * The worker role's unique id (`AROA…`): a worker's session is `aws:userid` `<role-id>:<instance-id>`, and its
   * heartbeat key is bound to it (model/heartbeat.ts); the agent gets it in its settings.
   */
  readonly workerRoleId: string;
  /** The region the deployment runs in (Lambda's AWS_REGION): workers' agents sign for it. */
  readonly region: string;
  /** Log and notify what the idle reaper would terminate, and terminate nothing. */
  readonly dryRun: boolean;
  /** The stage's SSH security group (port 22 from the CIDR it names), which fleets with `ssh: true` join. */
  readonly sshSecurityGroup?: string;
  /** The key pair the stack created (param sshCreateKeyPair), for fleets with `ssh: true` that name none. */
  readonly sshKeyPair?: string;
}

/** The settings and the fleets a function or the CLI acts on. */
export interface Config extends Settings {
  readonly fleets: Readonly<Record<string, FleetSpec>>;
}

/** A stage name: the functions refuse any other, so the CLI checks it before any call. */
export const STAGE_NAME = /^[a-zA-Z0-9-]{1,32}$/;
const INSTANCE_PROFILE_NAME = /^[\w+=,.@-]{1,128}$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
/** An IAM role's unique id, as `GetAtt <role>.RoleId` gives it. */
const ROLE_ID = /^AROA[A-Z0-9]{1,124}$/;
/** An EC2 key pair name: ASCII, at most 255 characters. */
const KEY_PAIR_NAME = /^[\x20-\x7e]{1,255}$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/;

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string, pattern: RegExp, expected: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`${name} is not set; expected ${expected}`);
  if (!pattern.test(value)) throw new ConfigError(`${name} is malformed: "${value}"; expected ${expected}`);
  return value;
}

function flag(env: Env, name: string): boolean {
  const value = env[name];
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new ConfigError(`${name} is malformed: "${value}"; expected true or false`);
}

/** Parses and validates the environment's settings; fails with the variable's name and what is wrong. */
export function loadSettings(env: Env = process.env): Settings {
  const stage = required(env, 'WORKER_FLEET_STAGE', STAGE_NAME, 'a stage name such as "dev"');
  return Object.freeze({
    stage,
    managedBy: `worker-fleet-${stage}`,
    instanceProfile: required(
      env,
      'WORKER_FLEET_INSTANCE_PROFILE',
      INSTANCE_PROFILE_NAME,
      'an instance profile name',
    ),
    topicArn: required(env, 'WORKER_FLEET_TOPIC_ARN', TOPIC_ARN, 'an SNS topic ARN'),
    stateBucket: required(env, 'WORKER_FLEET_STATE_BUCKET', BUCKET_NAME, 'an S3 bucket name'),
    stateTable: required(env, 'WORKER_FLEET_STATE_TABLE', TABLE_NAME, 'a DynamoDB table name'),
    fleetBucket: required(env, 'WORKER_FLEET_FLEET_BUCKET', BUCKET_NAME, 'an S3 bucket name'),
    logBucket: required(env, 'WORKER_FLEET_LOG_BUCKET', BUCKET_NAME, 'an S3 bucket name'),
    workerRoleName: required(env, 'WORKER_FLEET_WORKER_ROLE', ROLE_NAME, 'an IAM role name'),
    workerRoleId: required(env, 'WORKER_FLEET_WORKER_ROLE_ID', ROLE_ID, 'an IAM role id (AROA…)'),
    region: required(env, 'AWS_REGION', /^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1'),
    dryRun: flag(env, 'WORKER_FLEET_DRY_RUN'),
    ...(env.WORKER_FLEET_SSH_SECURITY_GROUP
      ? {
          sshSecurityGroup: required(
            env,
            'WORKER_FLEET_SSH_SECURITY_GROUP',
            /^sg-[0-9a-f]{8,17}$/,
            'a security group id (sg-…)',
          ),
        }
      : {}),
    ...(env.WORKER_FLEET_SSH_KEY_PAIR
      ? { sshKeyPair: required(env, 'WORKER_FLEET_SSH_KEY_PAIR', KEY_PAIR_NAME, 'an EC2 key pair name') }
      : {}),
  });
}

/** The configuration to act on: the settings with the fleets read (and validated) for this invocation. */
export function withFleets(settings: Settings, fleets: Readonly<Record<string, FleetSpec>>): Config {
  return Object.freeze({ ...settings, fleets });
}

/** The spec of a fleet this deployment manages, or an UnknownFleetError listing the ones it does. */
export function fleetSpec(config: Config, fleet: string): FleetSpec {
  const spec = Object.hasOwn(config.fleets, fleet) ? config.fleets[fleet] : undefined;
  if (spec === undefined) throw new UnknownFleetError(fleet, Object.keys(config.fleets));
  return spec;
}
