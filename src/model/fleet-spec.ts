import * as z from 'zod';
import { RESERVED_TAG_PREFIX } from './tags';

/** EC2 rejects raw user data over 16 KB; the launcher checks before asking. */
export const MAX_USER_DATA_BYTES = 16 * 1024;

/** A fleet's name: the fleets file's keys, and what the CLI's --fleet may be. */
export const FLEET_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const AMI_ID = /^ami-[0-9a-f]{8,17}$/;
const SSM_PARAMETER_NAME = /^\/[A-Za-z0-9_.\-/]{1,2047}$/;
const INSTANCE_TYPE = /^[a-z0-9-]+\.[a-z0-9-]+$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
const SPOT_PRICE = /^\d+(\.\d+)?$/;
/** What EC2 allows in a tag key once instance tags are in the instance metadata (InstanceMetadataTags: enabled). */
const IMDS_TAG_KEY = /^[A-Za-z0-9+\-=.,_:@]+$/;

const minutes = (max: number) => z.number().int().min(1).max(max);

/**
 * When a worker counts as idle, and what is done about it. A signal is used only when configured; missing data is
 * never idle. `heartbeatTimeoutMinutes`: no heartbeat newer than this is idle, unless the last one said busy or
 * draining (then unknown). `cpu`: every datapoint's average below `belowPercent` and every maximum below
 * `maxPercent` (the guard against bursty workers; a period without its maximum is no data) over the window, and
 * network in+out below `networkBelowBytes` per period if given.
 */
const idleSettingsSchema = () =>
  z.strictObject({
    heartbeatTimeoutMinutes: minutes(24 * 60).optional(),
    cpu: z
      .strictObject({
        belowPercent: z.number().min(0).max(100),
        maxPercent: z.number().min(0).max(100).optional(),
        windowMinutes: minutes(24 * 60).default(15),
        networkBelowBytes: z.number().int().min(0).optional(),
      })
      .optional(),
    bootGraceMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(10),
    maxLifetimeHours: z
      .number()
      .min(1)
      .max(24 * 365)
      .optional(),
    terminateAfterMinutes: z
      .number()
      .int()
      .min(0)
      .max(24 * 60)
      .default(10),
    /** The scale-in floor; by default the fleet's targetCapacity, so the reaper never fights the launcher. */
    minWorkers: z.number().int().min(0).max(10_000).optional(),
  });

export type IdleSettings = z.output<ReturnType<typeof idleSettingsSchema>>;

/** The worker agent every worker runs from its user data (see src/agent/worker-agent.sh). */
const agentSettingsSchema = () =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      heartbeatSeconds: z.number().int().min(5).max(3600).default(60),
      /** A file whose first word is busy or idle (any case), written by the workload; anything else is alive. */
      busyFile: z.string().min(1).max(1024).optional(),
      /** A command whose exit status says busy (0) or idle (1); anything else, or no answer in 10 s, is alive. */
      busyCommand: z.string().min(1).max(1024).optional(),
      /** Run once on a spot interruption notice, to checkpoint or hand work back. */
      drainCommand: z.string().min(1).max(2048).optional(),
      /** The drain hook's time limit: the notice comes two minutes before, so at most 110 s. */
      drainTimeoutSeconds: z.number().int().min(1).max(110).default(90),
      /**
       * The drain hook's time limit on a planned drain (a retirement: idle, max lifetime, an operator's drain):
       * nothing ends the worker before the fleet's drainGraceMinutes, so it may take longer than the spot notice's.
       */
      plannedDrainTimeoutSeconds: z
        .number()
        .int()
        .min(1)
        .max(24 * 3600)
        .default(540),
    })
    .refine((agent) => agent.busyFile === undefined || agent.busyCommand === undefined, {
      message: 'give busyFile or busyCommand, not both',
    });

/**
 * The worker's root volume, in place of the AMI's: size, type and encryption (EBS's default key for the account).
 * `iops` for io1 and io2 (required there), and for gp3 above its baseline of 3,000.
 */
const rootVolumeSchema = () =>
  z
    .strictObject({
      sizeGiB: z.number().int().min(1).max(16_384),
      type: z.enum(['gp3', 'gp2', 'io1', 'io2']).default('gp3'),
      iops: z.number().int().min(100).max(256_000).optional(),
      encrypted: z.boolean().default(true),
    })
    .refine((volume) => !volume.type.startsWith('io') || volume.iops !== undefined, {
      message: 'io1 and io2 volumes need iops',
      path: ['iops'],
    })
    .refine((volume) => volume.type !== 'gp2' || volume.iops === undefined, {
      message: 'gp2 volumes take no iops',
      path: ['iops'],
    });

export type RootVolume = z.output<ReturnType<typeof rootVolumeSchema>>;

const distinct = <T extends z.ZodType<string>>(item: T, what: string) =>
  z
    .array(item)
    .min(1, `at least one ${what} is required`)
    .refine((items) => new Set(items).size === items.length, `${what}s must not repeat`);

/**
 * How to run one named fleet. `market`:
 * - `spot`: spot only; a run that finds no spot capacity falls short and says so;
 * - `on-demand`: on-demand only;
 * - `spot-with-on-demand-fallback`: spot first, on-demand for whatever spot cannot supply.
 * `rebalance` says what an EC2 rebalance recommendation does: `ignore` it, `notify`, or `replace-early` (launch the
 * replacement now and mark the worker draining; it is retired `rebalanceRetireAfterMinutes` after its replacement
 * runs).
 */
const fleetSpecBuilder = () =>
  z
    .strictObject({
      ami: z
        .string()
        .refine(
          (value) => AMI_ID.test(value) || SSM_PARAMETER_NAME.test(value),
          'must be an AMI id (ami-…) or an SSM parameter name (/…)',
        ),
      instanceTypes: distinct(
        z.string().regex(INSTANCE_TYPE, 'must be an instance type such as c7g.large'),
        'instance type',
      ),
      subnets: distinct(z.string().regex(SUBNET_ID, 'must be a subnet id (subnet-…)'), 'subnet'),
      market: z.enum(['spot', 'on-demand', 'spot-with-on-demand-fallback']),
      spotMaxPrice: z
        .string()
        .regex(SPOT_PRICE, 'must be a price in USD per hour, such as "0.05"')
        .optional(),
      targetCapacity: z.number().int().min(0).max(10_000),
      maxCapacity: z.number().int().min(0).max(10_000).optional(),
      keyName: z.string().min(1).max(255).optional(),
      securityGroupIds: z
        .array(z.string().regex(SECURITY_GROUP_ID, 'must be a security group id (sg-…)'))
        .default([]),
      userData: z
        .string()
        .refine((value) => Buffer.byteLength(value) <= MAX_USER_DATA_BYTES, 'must be at most 16 KB')
        .optional(),
      rebalance: z.enum(['ignore', 'notify', 'replace-early']).default('notify'),
      /**
       * With `replace-early`: how long after its replacement runs the at-risk worker is retired (its Worker Draining
       * went out when it was marked). EC2 Fleet's shortest termination delay is 2 minutes; Auto Scaling waits for the
       * replacement's health checks.
       */
      rebalanceRetireAfterMinutes: z.number().int().min(0).max(120).default(2),
      agent: agentSettingsSchema().default({
        enabled: true,
        heartbeatSeconds: 60,
        drainTimeoutSeconds: 90,
        plannedDrainTimeoutSeconds: 540,
      }),
      /**
       * How long a worker asked to drain (a planned retirement) has to report `drained` before it is terminated
       * anyway.
       */
      drainGraceMinutes: z
        .number()
        .int()
        .min(0)
        .max(24 * 60)
        .default(10),
      /**
       * Planned disruption: at most `budget` workers (a number, or a percentage of the fleet's workers such as
       * "20%", rounded up) retiring at once. Absent: no limit. A spot interruption is never counted nor delayed.
       */
      disruption: z
        .strictObject({
          budget: z
            .union([
              z.number().int().min(1).max(10_000),
              z
                .string()
                .regex(/^(100|[1-9][0-9]?)%$/, 'must be a number of workers or a percentage such as "20%"'),
            ])
            .optional(),
          /**
           * When planned retirements other than idle ones may start: each window opens at its cron expression's times
           * (five fields, UTC) and lasts `durationMinutes`. Absent: any time.
           */
          windows: z
            .array(
              z.strictObject({
                cron: z
                  .string()
                  .regex(
                    /^[0-9A-Za-z*,/?#LW-]+( [0-9A-Za-z*,/?#LW-]+){4}$/,
                    'must be a cron expression of five fields (minute hour day-of-month month day-of-week), in UTC',
                  ),
                durationMinutes: z
                  .number()
                  .int()
                  .min(1)
                  .max(7 * 24 * 60),
              }),
            )
            .min(1)
            .optional(),
        })
        .optional(),
      idle: idleSettingsSchema().default({
        heartbeatTimeoutMinutes: 15,
        bootGraceMinutes: 10,
        terminateAfterMinutes: 10,
      }),
      metadataHopLimit: z.union([z.literal(1), z.literal(2)]).default(1),
      rootVolume: rootVolumeSchema().optional(),
      /**
       * Join the stage's SSH security group (port 22 from the CIDR the stage names), with keyName, or without it the
       * key pair the stage's stack creates (param sshCreateKeyPair).
       */
      ssh: z.boolean().default(false),
      tags: z
        .record(
          z
            .string()
            .min(1)
            .max(128)
            .regex(
              IMDS_TAG_KEY,
              'tag keys may use only letters, digits and + - = . , _ : @ (workers read their tags through instance metadata)',
            )
            .refine(
              (key) => !['.', '..', '_index'].includes(key),
              'tag keys must not be ".", ".." or "_index"',
            ),
          z.string().max(256),
        )
        .refine(
          (tags) =>
            Object.keys(tags).every((key) => !key.startsWith('aws:') && !key.startsWith(RESERVED_TAG_PREFIX)),
          `tag keys must not start with "aws:" or "${RESERVED_TAG_PREFIX}"`,
        )
        .refine((tags) => Object.keys(tags).length <= 40, 'at most 40 tags')
        .default({}),
    })
    .refine((spec) => spec.market !== 'on-demand' || spec.spotMaxPrice === undefined, {
      message: 'spotMaxPrice applies to spot markets only',
      path: ['spotMaxPrice'],
    })
    .refine((spec) => spec.maxCapacity === undefined || spec.maxCapacity >= spec.targetCapacity, {
      message: 'must be at least targetCapacity',
      path: ['maxCapacity'],
    })
    .transform((spec) => ({
      ...spec,
      maxCapacity: spec.maxCapacity ?? spec.targetCapacity,
      idle: { ...spec.idle, minWorkers: spec.idle.minWorkers ?? spec.targetCapacity },
    }));

/** One fleet's spec, validated and completed with its defaults. */
export const fleetSpecSchema = fleetSpecBuilder();

export type FleetSpec = Readonly<z.output<typeof fleetSpecSchema>>;
export type FleetMarket = FleetSpec['market'];

export const fleetsSchema = z
  .record(
    z.string().regex(FLEET_NAME, 'fleet names are lower-case letters, digits and dashes'),
    fleetSpecSchema,
  )
  .refine((fleets) => Object.keys(fleets).length > 0, 'at least one fleet is required');

/**
 * Warnings, not problems: each instance type of a valid fleet that is not in `known` (the types the AWS SDK lists),
 * as `fleet.instanceTypes.<i>: …`. EC2 offers new types before SDK releases list them, so an unknown type is
 * allowed; a typo is found here instead of at the first launch.
 */
export function describeUnknownInstanceTypes(
  fleets: Readonly<Record<string, Pick<FleetSpec, 'instanceTypes'>>>,
  known: ReadonlySet<string>,
): string[] {
  return Object.entries(fleets).flatMap(([name, fleet]) =>
    fleet.instanceTypes.flatMap((type, index) =>
      known.has(type)
        ? []
        : [
            `${name}.instanceTypes.${index}: ${type} is not an instance type this AWS SDK knows ` +
              '(a type newer than the SDK launches; a misspelt one fails at launch)',
          ],
    ),
  );
}

/**
 * The fleets file's JSON Schema (fleets.schema.json, for editors): what may be written, defaults optional. The rules
 * across fields (maxCapacity at least targetCapacity, and the like) are not in it: validation still names those.
 */
export function buildFleetsJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(fleetsSchema, { io: 'input', target: 'draft-07' }),
    title: 'worker-fleet fleets',
    description: 'The fleets a worker-fleet deployment manages, by name (docs/configuration.md).',
  };
}
