import type { Logger } from '@aws-lambda-powertools/logger';
import type { EC2Client, RunInstancesCommandInput, Tag } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { composeUserData } from '../agent/user-data';
import { type InstanceType, runInstances } from '../aws/ec2-workers';
import { resolveImageId, resolveRootDeviceName } from '../aws/image';
import { loadPoolMemory } from '../aws/pool-memory-store';
import { registerWorkers } from '../aws/worker-registry';
import type { Config } from '../config';
import { ConfigError } from '../errors';
import type { FleetSpec } from '../model/fleet-spec';
import type { Pool } from '../model/pool';
import { TAG, type Tags } from '../model/tags';
import type { Worker } from '../model/worker';
import { clientToken } from './client-token';
import { orderByRisk, poolRisks, RISKY_SCORE } from './pool-memory';
import { candidatePools, spreadAcrossSubnets } from './pools';
import { recordPoolEvents } from './record-pool-events';

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
  readonly s3: S3Client;
  readonly logger: Logger;
  readonly config: Config;
  readonly now: () => Date;
}

/** What to launch: the fleet, how many, why, and the id of the trigger that makes it idempotent. */
export interface LaunchOrder {
  readonly fleet: string;
  readonly spec: FleetSpec;
  readonly count: number;
  readonly reason: LaunchReason;
  readonly triggerId: string;
  /**
   * What the ClientTokens derive from when it is not the trigger: the slot the launch fills (a replaced worker, or
   * the fleet as observed), so that a retry after a crash asks EC2 for the same instances again.
   */
  readonly slot?: string;
  /** Spot pools (placement keys) not to use, such as the one a worker was just interrupted in. */
  readonly avoidSpotPools?: ReadonlySet<string>;
  readonly extraTags?: Tags;
}

export interface CapacityError {
  readonly pool: Pool;
  readonly code: string;
  readonly message: string;
}

export interface LaunchOutcome {
  readonly launched: Worker[];
  readonly capacityErrors: CapacityError[];
  /** Workers launched on-demand because spot could not supply them. */
  readonly onDemandFallback: number;
  readonly shortfall: number;
  /** Errors other than capacity (a throttle, a refused request) that stopped a subnet's share: the caller throws. */
  readonly failures: readonly unknown[];
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

/**
 * Launches `order.count` workers of a fleet: spread over its subnets, each share trying its pools in order (spot
 * before on-demand, see `candidatePools`; pools that interrupted us or ran out of capacity lately go last, see
 * `orderByRisk`) and moving to the next pool on a capacity error, which is remembered. Any other error is thrown.
 * Every launch in worker-fleet goes through here.
 */
export async function launchInstances(deps: LaunchDependencies, order: LaunchOrder): Promise<LaunchOutcome> {
  const { ec2, ssm, s3, logger, config, now } = deps;
  if (order.count <= 0) {
    return { launched: [], capacityErrors: [], onDemandFallback: 0, shortfall: 0, failures: [] };
  }
  const [imageId, memory] = await Promise.all([
    resolveImageId(ssm, order.spec.ami),
    // Pool memory is advice: without it, pools are tried in the fleet's own order.
    loadPoolMemory(s3, config.stateBucket, config.managedBy).catch((error: unknown) => {
      logger.warn('pool memory not readable, pools tried in the fleet order', { fleet: order.fleet, error });
      return undefined;
    }),
  ]);
  const rootDeviceName =
    order.spec.rootVolume === undefined ? undefined : await resolveRootDeviceName(ec2, imageId);
  const risks = poolRisks(memory, now());
  for (const [pool, risk] of risks) {
    if (risk.score >= RISKY_SCORE)
      logger.info('risky pool tried last', { fleet: order.fleet, pool, ...risk });
  }
  const chunks = spreadAcrossSubnets(order.count, order.spec.subnets);
  const capacityErrors: CapacityError[] = [];
  const onDemandFirst = order.spec.market === 'on-demand';

  const launchChunk = async (chunk: (typeof chunks)[number], chunkIndex: number): Promise<Worker[]> => {
    const pools = orderByRisk(candidatePools(order.spec, chunk.subnetId, order.avoidSpotPools), risks);
    for (const pool of pools) {
      const token = clientToken([
        config.managedBy,
        order.fleet,
        order.slot ?? order.triggerId,
        chunkIndex,
        pool.instanceType,
        pool.subnetId,
        pool.market,
      ]);
      const input = runInstancesInput(config, order, {
        imageId,
        pool,
        count: chunk.count,
        clientToken: token,
        rootDeviceName,
      });
      try {
        const workers = await runInstances(ec2, input);
        for (const worker of workers) {
          logger.info('worker launched', {
            fleet: order.fleet,
            instanceId: worker.instanceId,
            instanceType: worker.instanceType,
            subnetId: worker.subnetId,
            availabilityZone: worker.availabilityZone,
            market: pool.market,
            reason: order.reason,
            triggerId: order.triggerId,
          });
        }
        return workers.map((worker) => ({ ...worker, market: pool.market }));
      } catch (error) {
        const code = errorName(error);
        if (!CAPACITY_ERRORS.has(code)) throw error;
        const message = (error as Error).message;
        capacityErrors.push({ pool, code, message });
        logger.warn('no capacity in pool, trying the next', {
          fleet: order.fleet,
          ...pool,
          code,
          count: chunk.count,
        });
      }
    }
    logger.error('no pool had capacity', {
      fleet: order.fleet,
      subnetId: chunk.subnetId,
      count: chunk.count,
    });
    return [];
  };

  // Every share runs to its end: what launched is registered and reported even when another share failed.
  const settled = await Promise.allSettled(chunks.map(launchChunk));
  const launched = settled.flatMap((share) => (share.status === 'fulfilled' ? share.value : []));
  const failures = settled.flatMap((share) => (share.status === 'rejected' ? [share.reason as unknown] : []));
  for (const error of failures) logger.error('launch of a share failed', { fleet: order.fleet, error });
  const [unregistered] = await Promise.all([
    registerWorkers(s3, config.stateBucket, config.managedBy, order.fleet, launched, now()),
    recordPoolEvents(
      s3,
      config.stateBucket,
      config.managedBy,
      capacityErrors
        .filter(({ pool }) => pool.market === 'spot')
        .map(({ pool }) => ({ pool, kind: 'capacity-error' })),
      now(),
    ).catch((error: unknown) => {
      logger.warn('capacity errors not remembered in pool memory', { fleet: order.fleet, error });
    }),
  ]);
  if (unregistered.length > 0) {
    logger.warn('workers not recorded in the registry: their warnings go through EC2 first', {
      fleet: order.fleet,
      instanceIds: unregistered,
    });
  }
  return {
    launched,
    capacityErrors,
    onDemandFallback: onDemandFirst ? 0 : launched.filter((worker) => worker.market === 'on-demand').length,
    shortfall: order.count - launched.length,
    failures,
  };
}
