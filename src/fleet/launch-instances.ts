import type { Logger } from '@aws-lambda-powertools/logger';
import type { EC2Client, RunInstancesCommandInput, Tag } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { composeUserData } from '../agent/user-data';
import { type InstanceType, runInstances } from '../aws/ec2-workers';
import { resolveImageId, resolveRootDeviceName } from '../aws/image';
import type { Config } from '../config';
import { ConfigError } from '../errors';
import type { FleetSpec } from '../model/fleet-spec';
import type { FleetState, HeldLease, LaunchIntent } from '../model/fleet-state';
import { type Pool, placementKey } from '../model/pool';
import { TAG, type Tags } from '../model/tags';
import type { Worker } from '../model/worker';
import { clientToken } from './client-token';
import { orderByRisk, type PoolRisk, poolMemoryOf, poolRisks, RISKY_SCORE } from './pool-memory';
import { candidatePools } from './pools';
import type { PlannedLaunch } from './reconcile-plan';

/** EC2 errors that mean "no capacity in this pool right now": the launcher moves on to the next pool. */
export const CAPACITY_ERRORS: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'MaxSpotInstanceCountExceeded',
  'SpotMaxPriceTooLow',
  'UnfulfillableCapacity',
]);

export type LaunchReason = 'schedule' | 'event' | 'direct' | 'replacement';

export interface LaunchDependencies {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly state: FleetState;
  readonly logger: Logger;
  readonly config: Config;
  readonly now: () => Date;
}

/** What to launch: the fleet, how many, why, and the trigger its workers are tagged with. */
export interface LaunchOrder {
  readonly fleet: string;
  readonly spec: FleetSpec;
  readonly count: number;
  readonly reason: LaunchReason;
  readonly triggerId: string;
  readonly extraTags?: Tags;
}

export interface CapacityError {
  readonly pool: Pool;
  readonly code: string;
  readonly message: string;
}

function workerTags(config: Config, order: LaunchOrder): Tag[] {
  const tags: Record<string, string> = {
    Name: `worker-fleet-${config.stage}-${order.fleet}`,
    ...order.spec.tags,
    ...order.extraTags,
    [TAG.managedBy]: config.managedBy,
    [TAG.fleet]: order.fleet,
    [TAG.launchReason]: order.reason,
    [TAG.triggerId]: order.triggerId,
  };
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * The fleet's security groups, and the stage's SSH group when the fleet asks for SSH. A fleet that asks in a stage
 * without one is refused before EC2 is asked: it would launch workers nobody can reach.
 */
function securityGroupIds(config: Config, order: LaunchOrder): string[] | undefined {
  const { spec } = order;
  if (spec.ssh && config.sshSecurityGroup === undefined) {
    throw new ConfigError(
      `fleet ${order.fleet} asks for ssh, but stage ${config.stage} has no SSH security group (params sshIngressCidr and sshVpcId)`,
    );
  }
  const groups =
    spec.ssh && config.sshSecurityGroup !== undefined
      ? [...spec.securityGroupIds, config.sshSecurityGroup]
      : [...spec.securityGroupIds];
  return groups.length > 0 ? groups : undefined;
}

/**
 * The fleet's own key pair, else, for a fleet that asks for SSH, the one the stack created. A fleet that asks for SSH
 * with neither is refused before EC2 is asked: its workers would accept no key.
 */
function keyName(config: Config, order: LaunchOrder): string | undefined {
  const { spec } = order;
  if (spec.keyName !== undefined || !spec.ssh) return spec.keyName;
  if (config.sshKeyPair === undefined) {
    throw new ConfigError(
      `fleet ${order.fleet} asks for ssh, but names no keyName and stage ${config.stage} creates no key pair (param sshCreateKeyPair)`,
    );
  }
  return config.sshKeyPair;
}

/** The RunInstances request for `count` workers in one pool. Pure: tests read it to prove what is asked of EC2. */
export function runInstancesInput(
  config: Config,
  order: LaunchOrder,
  request: { imageId: string; pool: Pool; count: number; clientToken: string; rootDeviceName?: string },
): RunInstancesCommandInput {
  const { spec } = order;
  const { pool } = request;
  const tags = workerTags(config, order);
  return {
    ImageId: request.imageId,
    InstanceType: pool.instanceType as InstanceType,
    SubnetId: pool.subnetId,
    MinCount: request.count,
    MaxCount: request.count,
    ClientToken: request.clientToken,
    IamInstanceProfile: { Name: config.instanceProfile },
    MetadataOptions: {
      HttpTokens: 'required',
      HttpEndpoint: 'enabled',
      HttpPutResponseHopLimit: spec.metadataHopLimit,
      // The worker's agent reads its drain request (a tag) here, with no credentials or port of its own.
      InstanceMetadataTags: 'enabled',
    },
    BlockDeviceMappings:
      spec.rootVolume === undefined || request.rootDeviceName === undefined
        ? undefined
        : [
            {
              DeviceName: request.rootDeviceName,
              Ebs: {
                VolumeSize: spec.rootVolume.sizeGiB,
                VolumeType: spec.rootVolume.type,
                Iops: spec.rootVolume.iops,
                Encrypted: spec.rootVolume.encrypted,
                DeleteOnTermination: true,
              },
            },
          ],
    KeyName: keyName(config, order),
    SecurityGroupIds: securityGroupIds(config, order),
    UserData: base64(
      composeUserData(spec, {
        fleetBucket: config.fleetBucket,
        region: config.region,
        workerRoleId: config.workerRoleId,
        fleet: order.fleet,
      }),
    ),
    InstanceMarketOptions:
      pool.market === 'spot'
        ? {
            MarketType: 'spot',
            SpotOptions: {
              SpotInstanceType: 'one-time',
              InstanceInterruptionBehavior: 'terminate',
              MaxPrice: spec.spotMaxPrice,
            },
          }
        : undefined,
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
  };
}

const base64 = (text: string | undefined) =>
  text === undefined ? undefined : Buffer.from(text).toString('base64');

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/** What every launch of one pass shares: the image, its root device, and the pools' risks, read once. */
export interface LaunchContext {
  readonly imageId: string;
  readonly rootDeviceName?: string;
  readonly risks: ReadonlyMap<string, PoolRisk>;
}

/** Reads what a pass's launches share. Pool memory is advice: unreadable, pools are tried in the fleet's order. */
export async function prepareLaunches(
  deps: LaunchDependencies,
  fleet: string,
  spec: FleetSpec,
): Promise<LaunchContext> {
  const { ec2, ssm, state, logger, now } = deps;
  const [imageId, events] = await Promise.all([
    resolveImageId(ssm, spec.ami, now()),
    state.poolEvents(now()).catch((error: unknown) => {
      logger.warn('pool memory not readable, pools tried in the fleet order', { fleet, error });
      return [];
    }),
  ]);
  const rootDeviceName =
    spec.rootVolume === undefined ? undefined : await resolveRootDeviceName(ec2, imageId);
  const risks = poolRisks(poolMemoryOf(events), now());
  for (const [pool, risk] of risks) {
    if (risk.score >= RISKY_SCORE) logger.info('risky pool tried last', { fleet, pool, ...risk });
  }
  return { imageId, ...(rootDeviceName === undefined ? {} : { rootDeviceName }), risks };
}

/** What became of one slot's launch: its intent as it now stands (to be committed), and what it met. */
export interface SlotOutcome {
  readonly intent: LaunchIntent;
  readonly launched: readonly Worker[];
  readonly capacityErrors: readonly CapacityError[];
  /** A failure other than capacity (a throttle, a refused request): the intent stays open, re-sent by a later pass. */
  readonly failure?: unknown;
}

/** An answer made only of instances that have already ended: EC2 remembered a token whose launch is over. */
const onlyEnded = (workers: readonly Worker[]) =>
  workers.length > 0 &&
  workers.every((worker) => worker.state === 'shutting-down' || worker.state === 'terminated');

/**
 * Launches one slot under the fleet's lease. An intent with an attempt is re-sent exactly as recorded (EC2 answers
 * a repeated ClientToken with the instances it launched, and launches nothing). Otherwise, or when that pool had no
 * capacity, the slot's pools are tried in order (spot before on-demand, risky pools last, avoided ones left out):
 * each attempt is recorded under the fence, with a ClientToken never used before, before it is sent. An answer of
 * ended instances only means "not launched": the next attempt gets a new token. Every launch goes through here.
 */
export async function launchSlot(
  deps: LaunchDependencies,
  lease: HeldLease,
  order: LaunchOrder & { readonly launch: PlannedLaunch; readonly context: LaunchContext },
): Promise<SlotOutcome> {
  const { ec2, state, logger, config, now } = deps;
  const { launch, context, spec, fleet } = order;
  let intent: LaunchIntent = launch.intent ?? {
    slot: launch.slot,
    count: launch.count,
    ...(launch.replaces === undefined ? {} : { replaces: launch.replaces }),
    ...(launch.subnetId === undefined ? {} : { subnetId: launch.subnetId }),
    avoid: launch.avoid,
    status: 'open',
    at: now().toISOString(),
  };
  const capacityErrors: CapacityError[] = [];
  const tried = new Set<string>();

  const send = async (pool: Pool, input: RunInstancesCommandInput): Promise<Worker[] | undefined> => {
    try {
      const workers = await runInstances(ec2, input);
      if (!onlyEnded(workers)) return workers.map((worker) => ({ ...worker, market: pool.market }));
      logger.warn('launch answered with ended instances only: not launched', {
        fleet,
        slot: intent.slot,
        instanceIds: workers.map((worker) => worker.instanceId),
      });
    } catch (error) {
      const code = errorName(error);
      if (!CAPACITY_ERRORS.has(code)) throw error;
      capacityErrors.push({ pool, code, message: (error as Error).message });
      logger.warn('no capacity in pool, trying the next', { fleet, ...pool, code, count: intent.count });
    }
    tried.add(`${pool.market}:${placementKey(pool)}`);
    return undefined;
  };
  const answered = (workers: readonly Worker[]): SlotOutcome => {
    for (const worker of workers) {
      logger.info('worker launched', {
        fleet,
        instanceId: worker.instanceId,
        instanceType: worker.instanceType,
        subnetId: worker.subnetId,
        availabilityZone: worker.availabilityZone,
        market: worker.market,
        reason: order.reason,
        slot: intent.slot,
      });
    }
    const { attempt: _attempt, ...rest } = intent;
    return {
      intent: {
        ...rest,
        status: 'answered',
        instanceIds: workers.map((worker) => worker.instanceId),
        answeredAt: now().toISOString(),
      },
      launched: workers,
      capacityErrors,
    };
  };

  try {
    if (intent.status === 'open' && intent.attempt !== undefined) {
      const { pool, input } = intent.attempt;
      const workers = await send(pool, JSON.parse(input) as RunInstancesCommandInput);
      if (workers !== undefined) return answered(workers);
    }
    const subnetId = intent.subnetId ?? spec.subnets[0] ?? '';
    const pools = orderByRisk(candidatePools(spec, subnetId, new Set(intent.avoid)), context.risks).filter(
      (pool) => !tried.has(`${pool.market}:${placementKey(pool)}`),
    );
    for (const pool of pools) {
      const { generation, first } = await state.nextTokens(1);
      const token = clientToken([generation, first]);
      const input = runInstancesInput(config, order, {
        imageId: context.imageId,
        pool,
        count: intent.count,
        clientToken: token,
        rootDeviceName: context.rootDeviceName,
      });
      intent = {
        ...intent,
        status: 'open',
        attempt: { clientToken: token, pool, input: JSON.stringify(input) },
      };
      await state.commit(lease, [{ kind: 'intent', intent }]);
      const workers = await send(pool, input);
      if (workers !== undefined) return answered(workers);
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'FenceLostError') throw error;
    logger.error('launch failed, the slot is re-sent by the next pass', { fleet, slot: intent.slot, error });
    return { intent, launched: [], capacityErrors, failure: error };
  }
  logger.error('no pool had capacity', { fleet, slot: intent.slot, count: intent.count });
  const { attempt: _attempt, ...rest } = intent;
  return { intent: { ...rest, status: 'short' }, launched: [], capacityErrors };
}
