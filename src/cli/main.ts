import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { version } from '../../package.json';
import { createClients } from '../aws/clients';
import { createFleetStateTable } from '../aws/fleet-state-table';
import { STAGE_NAME } from '../config';
import type { DrainResult } from '../fleet/drain-worker';
import { type FleetStatus, fleetStatus } from '../fleet/fleet-status';
import type { FleetLaunchResult } from '../fleet/launch-workers';
import { findOrphans, type OrphanFleet } from '../fleet/orphans';
import type { FleetReapResult } from '../fleet/reap-idle-workers';
import { logger } from '../logger';
import { FLEET_NAME } from '../model/fleet-spec';
import { resolveAwsSettings } from './aws-settings';
import {
  type AccountConnection,
  type CliCommand,
  type CommandOptions,
  type ConfigStoreConnection,
  type Connected,
  type DeployedFunctions,
  fleetOption,
  type OptionValues,
  parseCount,
  stringOption,
} from './command';
import { config } from './config-command';
import { FunctionFailedError, invokeFunction, loadDeployment, loadDeploymentSettings } from './deployment';
import { checkOptions } from './option-check';
import { formatTable } from './table';
import { UsageError } from './usage-error';

export interface CliOutput {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Options every command takes: where the deployment is, and how to print. */
const COMMON_OPTIONS = {
  stage: { type: 'string', default: 'dev' },
  region: { type: 'string' },
  profile: { type: 'string' },
  output: { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
  version: { type: 'boolean', default: false },
} as const satisfies CommandOptions;

const COMMON = `Options:
  --stage <stage>           the deployment's stage (default: dev)
  --region <region>         AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region)
  --profile <name>          AWS profile (default: AWS_PROFILE, then the standard credential chain)
  --output <json|table>     json for scripts; table (the default) for people. --json is --output json
  --verbose                 the core's structured JSON logs
  --help                    this help
  --version                 worker-fleet's version
AWS_ENDPOINT_URL is honoured (the local emulator, for instance). Exit codes: 0 done, 1 failed, 2 usage.`;

/** Errors that are the operator's input or environment, printed as their message alone. */
const EXPECTED_ERRORS = new Set([
  'ConfigError',
  'InvalidEventError',
  'UnknownFleetError',
  'NotAWorkerError',
  'ProtectedWorkerError',
  'DeploymentNotFoundError',
  'FleetConfigError',
  'FleetConfigChangedError',
  'AccountCheckError',
  'OrphanedWorkersError',
]);

const minutes = (value: number | undefined) => (value === undefined ? '-' : `${value}m`);

/** The fleets' sizes, one row each: what the fleets file asks, what the reconciliation keeps, what is there. */
const sizesTable = (statuses: readonly FleetStatus[]) =>
  formatTable(
    statuses.map((status) => ({
      fleet: status.fleet,
      target: status.targetCapacity,
      desired: status.desired,
      floor: status.floor,
      max: status.maxCapacity,
      running: status.running,
      'in-flight': status.inFlight.length,
    })),
  );

/** `max-lifetime: draining until …; AWS instance-retirement from …`: a worker's planned retirement, or `-`. */
function plannedText({ retirement, scheduledChange }: FleetStatus['workers'][number]): string {
  return (
    [
      retirement === undefined
        ? ''
        : `${retirement.reason}: ${retirement.stage}${retirement.stage === 'draining' && retirement.deadline !== undefined ? ` until ${retirement.deadline}` : ''}`,
      scheduledChange === undefined ? '' : `AWS ${scheduledChange.code} from ${scheduledChange.startsAt}`,
    ]
      .filter((text) => text !== '')
      .join('; ') || '-'
  );
}

function statusText(statuses: readonly FleetStatus[]): string {
  const parts: string[] = [sizesTable(statuses), ''];
  for (const status of statuses) {
    const inFlight =
      status.inFlight.length === 0
        ? ''
        : `, ${status.inFlight.length} in flight (${status.inFlight.join(' ')})`;
    const pending =
      status.pendingRequests === 0
        ? ''
        : `; ${status.pendingRequests} size request${status.pendingRequests === 1 ? '' : 's'} for the next pass`;
    parts.push(`fleet ${status.fleet}: ${status.running} running${inFlight}${pending}`);
    if (status.workers.length > 0) {
      parts.push(
        formatTable(
          status.workers.map((worker) => ({
            instance: worker.instanceId,
            type: worker.instanceType,
            az: worker.availabilityZone,
            market: worker.market,
            state: worker.state,
            age: minutes(worker.ageMinutes),
            heartbeat:
              worker.heartbeatMinutesAgo === undefined
                ? 'none'
                : `${worker.heartbeatMinutesAgo}m ago${worker.heartbeatStatus === undefined ? '' : ` (${worker.heartbeatStatus})`}`,
            verdict: worker.idleSince === undefined ? worker.verdict : `${worker.verdict}, marked`,
            why: worker.explanation,
            interruption:
              [
                worker.interruption === undefined ? '' : `interrupted (${worker.interruption})`,
                worker.replacedBy === undefined ? '' : `replaced by ${worker.replacedBy}`,
                worker.replaces === undefined ? '' : `replaces ${worker.replaces}`,
              ]
                .filter((text) => text !== '')
                .join(', ') || '-',
            image: worker.drifted ? `${worker.imageId} (drifted)` : worker.imageId,
            planned: plannedText(worker),
          })),
        ),
      );
    }
    const risky = status.riskyPools.map((pool) => `  ${pool.pool}: score ${pool.score}, ${pool.reason}`);
    parts.push(risky.length === 0 ? 'risky pools: none' : ['risky pools:', ...risky].join('\n'), '');
  }
  return parts.join('\n');
}

/** Workers of fleets the configuration no longer names, one row each: nothing launches, replaces or judges them. */
function orphansText(orphans: readonly OrphanFleet[], now: Date): string {
  if (orphans.length === 0) return 'orphans: none';
  const count = orphans.reduce((total, { workers }) => total + workers.length, 0);
  return [
    `orphans: ${count} worker${count === 1 ? '' : 's'} of fleet${orphans.length === 1 ? '' : 's'} no longer configured (${orphans.map(({ fleet }) => fleet || '(no fleet tag)').join(', ')})`,
    formatTable(
      orphans.flatMap(({ fleet, workers }) =>
        workers.map((worker) => ({
          fleet: fleet || '-',
          instance: worker.instanceId,
          type: worker.instanceType,
          az: worker.availabilityZone,
          market: worker.market,
          state: worker.state,
          age: minutes(
            worker.launchTime === undefined
              ? undefined
              : Math.floor((now.getTime() - worker.launchTime.getTime()) / 60_000),
          ),
        })),
      ),
    ),
  ].join('\n');
}

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

const status: CliCommand<{ readonly fleet?: string }> = {
  summary: ['status [--fleet <fleet>]', 'sizes, workers, idle verdicts, interruptions and risky pools'],
  help: `The fleet's (or every fleet's) sizes: target (the fleets file's targetCapacity), desired (what the
reconciliation keeps; size requests its next pass applies are counted beside it), floor (idle.minWorkers), max,
running, in flight (launched, not listed by EC2 yet). Every
running worker: type, AZ, market, state, age, last heartbeat, the idle reaper's verdict and why, interruption and
replacement, its image (drifted: not the one the fleet now launches), its planned retirement (reason, waiting,
replacing or draining, and until when) and any change AWS scheduled for it. The spot pools avoided and why. Without
--fleet, the orphans too: workers of this deployment whose fleet the configuration no longer names (--json: an entry
each, with "orphan": true). Reads only.`,
  options: { fleet: { type: 'string' } },
  parse: (values) => ({ fleet: fleetOption(values) }),
  run: async (connect, { fleet }) => {
    const deps = await connect.deployment();
    const configured = Object.keys(deps.config.fleets);
    const now = deps.now();
    const statuses = await fleetStatus(deps, fleet === undefined ? configured : [fleet], now);
    if (fleet !== undefined) return { result: statuses, text: statusText(statuses) };
    const orphans = await findOrphans({ ec2: deps.ec2, owner: deps.config }, configured);
    return {
      result: [
        ...statuses,
        ...orphans.map((orphan) => ({ ...orphan, orphan: true, running: orphan.workers.length })),
      ],
      text: `${statusText(statuses)}${orphansText(orphans, now)}`,
    };
  },
};

const launch: CliCommand<{ readonly fleet?: string; readonly count?: number }> = {
  summary: ['launch --fleet <fleet> [--count <n>]', 'launch workers now (to the target, or n more)'],
  help: `Asks the deployed launcher (worker-fleet-<stage>-launchWorkers) to bring the fleet to its target capacity, or
to launch n more workers (bounded by maxCapacity), and prints what it did. The CLI itself changes nothing.`,
  options: { fleet: { type: 'string' }, count: { type: 'string' } },
  parse: (values) => ({
    fleet: fleetOption(values, 'launch'),
    count: parseCount('count', stringOption(values, 'count')),
  }),
  run: async (connect, { fleet, count }) => {
    // The launcher's direct-invocation payload (events/launch-direct.json); the request id makes a retry idempotent.
    const functions = await connect.functions();
    const [launched] = (await functions.invoke('launchWorkers', {
      fleet,
      ...(count === undefined ? {} : { count }),
      requestId: `cli-${randomUUID()}`,
    })) as FleetLaunchResult[];
    const ids = launched?.launched.map((worker) => worker.instanceId) ?? [];
    return {
      result: launched,
      text: `fleet ${launched?.fleet}: ${launched?.status}, launched ${ids.length}${ids.length > 0 ? `: ${ids.join(' ')}` : ''}`,
    };
  },
};

const scale: CliCommand<{ readonly fleet: string; readonly size: number }> = {
  summary: ['scale <fleet> <n>', "set the fleet's size (its desired number of workers)"],
  help: `Asks the deployed launcher (worker-fleet-<stage>-launchWorkers) to set the fleet's size to n (0 to 10,000, capped
at maxCapacity) and reconcile it, as a launch request with a target does, and prints what it did. A larger size
launches what is missing; a smaller one launches and terminates nothing itself: idle workers are retired by the
idle reaper as usual, never below the floor (idle.minWorkers). The size holds until the next request sets another (a launch
schedule sets targetCapacity). The CLI itself changes nothing.`,
  options: {},
  parse: (_values, positionals) => {
    const [fleet, size, ...extra] = positionals;
    if (fleet === undefined || size === undefined || extra.length > 0) {
      throw new UsageError('scale needs a fleet and a size: scale <fleet> <n>');
    }
    if (!FLEET_NAME.test(fleet)) {
      throw new UsageError(`scale: fleet names are lower-case letters, digits and dashes, not "${fleet}"`);
    }
    // Plain digits, as parseCount reads counts; 0 is a size (the reaper then retires idle workers above the floor).
    const n = /^[0-9]+$/.test(size) ? Number(size) : Number.NaN;
    if (!(Number.isSafeInteger(n) && n <= 10_000)) {
      throw new UsageError(
        `scale: the size must be a whole number from 0 to 10000 in plain digits, not "${size}"`,
      );
    }
    return { fleet, size: n };
  },
  run: async (connect, { fleet, size }) => {
    // The launcher's direct-invocation payload with a target (events/launch-direct.json).
    const functions = await connect.functions();
    const [scaled] = (await functions.invoke('launchWorkers', {
      fleet,
      target: size,
      requestId: `cli-${randomUUID()}`,
    })) as FleetLaunchResult[];
    const ids = scaled?.launched.map((worker) => worker.instanceId) ?? [];
    return {
      result: scaled,
      text: [
        `fleet ${scaled?.fleet}: size ${scaled?.desired}${scaled?.capped ? ` (asked ${size}, capped at maxCapacity)` : ''}, ${scaled?.active} running; ${scaled?.status}`,
        `launched ${ids.length}${ids.length > 0 ? `: ${ids.join(' ')}` : ''}`,
      ].join('\n'),
    };
  },
};

const reap: CliCommand<{ readonly fleet?: string; readonly dryRun: boolean }> = {
  summary: ['reap --fleet <fleet> [--dry-run]', 'judge and reap idle workers now'],
  help: `One run of the deployed idle reaper (worker-fleet-<stage>-reapIdleWorkers) for the fleet: marks idle workers,
terminates those marked long enough. --dry-run reports what it would do and changes nothing; without it, the
deployment's own dry-run setting holds. The CLI itself changes nothing.`,
  options: { fleet: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
  parse: (values) => ({ fleet: fleetOption(values, 'reap'), dryRun: values['dry-run'] === true }),
  run: async (connect, { fleet, dryRun }) => {
    // The reaper's direct-invocation payload (events/reap-direct.json).
    const functions = await connect.functions();
    const [reaped] = (await functions.invoke('reapIdleWorkers', {
      fleet,
      ...(dryRun ? { dryRun } : {}),
    })) as FleetReapResult[];
    const ids = (list: readonly { instanceId: string }[] = []) =>
      list.map((w) => w.instanceId).join(' ') || '-';
    return {
      result: reaped,
      text: [
        `fleet ${reaped?.fleet}${reaped?.dryRun ? ' (dry run)' : ''}: ${reaped?.workers} workers judged`,
        `marked idle: ${ids(reaped?.marked)}`,
        `terminated: ${ids(reaped?.dryRun ? reaped.wouldTerminate : reaped?.terminated)}${reaped?.dryRun ? ' (would)' : ''}`,
      ].join('\n'),
    };
  },
};

const drain: CliCommand<{
  readonly instanceId: string;
  readonly now: boolean;
  readonly shrink: boolean;
  readonly dryRun: boolean;
}> = {
  summary: [
    'drain <instance-id> [--now] [--shrink] [--dry-run]',
    'retire one worker gracefully: replaced first, drained, then terminated',
  ],
  help: `Asks the deployed reaper (worker-fleet-<stage>-reapIdleWorkers) to retire a worker of this deployment through
the graceful path: a replacement first (the fleet keeps its size), then its drain hook (the agent reads the drain
request from its instance tags and reports drained), then its termination, at the latest the fleet's
drainGraceMinutes after the drain request. Prints what it waits for. --now terminates it at once, without the
drain hook; --shrink lowers the fleet's size by one, so it is neither replaced first nor refilled; --dry-run says
what would be done and changes nothing. Instances without the deployment's managed-by tag, and workers tagged
worker-fleet:protected, are refused (remove the tag first: the reaper may not terminate a protected worker, so
there is no --force). The CLI itself changes nothing.`,
  options: {
    now: { type: 'boolean', default: false },
    shrink: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
  },
  parse: (values, positionals) => {
    const [instanceId, ...extra] = positionals;
    if (instanceId === undefined || extra.length > 0)
      throw new UsageError('drain needs exactly one instance id');
    if (!INSTANCE_ID.test(instanceId)) {
      throw new UsageError(`"${instanceId}" is not an instance id such as i-0123456789abcdef0`);
    }
    return {
      instanceId,
      now: values.now === true,
      shrink: values.shrink === true,
      dryRun: values['dry-run'] === true,
    };
  },
  run: async (connect, { instanceId, now, shrink, dryRun }) => {
    // The reaper's drain payload (events/drain-direct.json): the drain runs in the function, through drainWorker.
    const functions = await connect.functions();
    const drained = (await functions.invoke('reapIdleWorkers', {
      drain: instanceId,
      ...(now ? { now } : {}),
      ...(shrink ? { shrink } : {}),
      ...(dryRun ? { dryRun } : {}),
    })) as DrainResult;
    const waits = drained.waitsFor === undefined ? '' : `; waits for ${drained.waitsFor}`;
    return {
      result: drained,
      text: `${drained.instanceId} (fleet ${drained.fleet}): ${drained.status}${waits}`,
    };
  },
};

/**
 * The subcommands, by name. A new one is a CliCommand (src/cli/command.ts) in a file of its own and a row here:
 * its help, its options and its parse all come from its row. An option two commands share (`--fleet`) has the same
 * type in both: the command word is found with every command's options at once.
 */
const COMMANDS: Readonly<Record<string, CliCommand<unknown>>> = {
  status,
  launch,
  scale,
  reap,
  drain,
  config,
};

/** The command of that name: own rows only, so `toString` is no command. */
const commandNamed = (name: string | undefined) =>
  name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;

function helpText(name: string | undefined): string {
  const command = commandNamed(name);
  if (command !== undefined) {
    return `Usage: worker-fleet ${command.summary[0]}\n\n${command.help}\n\n${COMMON}`;
  }
  const rows = Object.values(COMMANDS).map((c) => c.summary);
  const width = Math.max(...rows.map(([usage]) => usage.length));
  return `Usage: worker-fleet <command> [options]

Commands:
${rows.map(([usage, purpose]) => `  ${usage.padEnd(width)}  ${purpose}`).join('\n')}

${COMMON}`;
}

/** Every option any command takes: enough to find the command word, whatever options come before it. */
const ALL_OPTIONS: CommandOptions = Object.assign(
  {},
  COMMON_OPTIONS,
  ...Object.values(COMMANDS).map((command) => command.options),
);

/** Node's parser, strict, after checkOptions: what it still refuses (an ambiguous value) is a usage error. */
function parseStrict(argv: readonly string[], options: CommandOptions) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** How output is printed: `--output json|table`, `--json` standing for `--output json`. */
function outputOf(values: OptionValues): 'json' | 'table' {
  const output = values.output;
  if (output !== undefined && output !== 'json' && output !== 'table') {
    throw new UsageError(`--output must be json or table, not "${output}"`);
  }
  if (values.json === true && output === 'table') throw new UsageError('--json and --output table disagree');
  return values.json === true || output === 'json' ? 'json' : 'table';
}

/** The command line, checked: a help or version text to print, or a command to run. No AWS call. */
type Invocation =
  | { readonly print: string; readonly code: number }
  | {
      readonly command: CliCommand<unknown>;
      readonly args: unknown;
      readonly stage: string;
      readonly region?: string;
      readonly profile?: string;
      readonly output: 'json' | 'table';
      readonly verbose: boolean;
    };

function parseInvocation(argv: readonly string[]): Invocation {
  const loose = parseArgs({ args: [...argv], allowPositionals: true, strict: false, options: ALL_OPTIONS });
  const [name = '', ...rest] = loose.positionals;
  const command = commandNamed(name);
  if (command === undefined && name !== '' && name !== 'help')
    throw new UsageError(`unknown command "${name}"`);
  const options = { ...COMMON_OPTIONS, ...command?.options };
  checkOptions(command === undefined ? undefined : name, argv, options);
  const { values, positionals } = parseStrict(argv, options);
  if (values.version === true) return { print: version, code: 0 };
  if (command === undefined || values.help === true) {
    return { print: helpText(name === 'help' ? rest[0] : name), code: name === '' && !values.help ? 2 : 0 };
  }
  const stage = stringOption(values, 'stage') ?? 'dev';
  if (!STAGE_NAME.test(stage)) {
    throw new UsageError(`--stage must be 1 to 32 letters, digits and dashes, not "${stage}"`);
  }
  return {
    command,
    args: command.parse(values, positionals.slice(1)),
    stage,
    region: stringOption(values, 'region'),
    profile: stringOption(values, 'profile'),
    output: outputOf(values),
    verbose: values.verbose === true,
  };
}

/** Connect to read: the region and profile, the deployment's configuration (read from its launcher), read clients. */
async function connect(
  invocation: Extract<Invocation, { command: unknown }>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Connected> {
  const settings = await resolveAwsSettings(invocation, env);
  logger.setLogLevel(invocation.verbose ? 'INFO' : 'SILENT');
  const clients = createClients(
    {
      lambda: LambdaClient,
      ec2: EC2Client,
      s3: S3Client,
      cloudwatch: CloudWatchClient,
      dynamodb: DynamoDBClient,
    },
    settings,
  );
  // The fleets are read with the same credentials as everything else (the profile too).
  const config = await loadDeployment(clients, invocation.stage, settings.region);
  const state = createFleetStateTable(clients.dynamodb, config.stateTable);
  return { ...clients, state, config, now: () => new Date() };
}

/**
 * Connect to act: the stage's functions. The operator's credentials only invoke them; every change is the function's
 * own, with its role, its clock and its lease.
 */
async function connectFunctions(
  invocation: Extract<Invocation, { command: unknown }>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<DeployedFunctions> {
  const settings = await resolveAwsSettings(invocation, env);
  const { lambda } = createClients({ lambda: LambdaClient }, settings);
  const where = { stage: invocation.stage, region: settings.region };
  return { invoke: (fn, payload) => invokeFunction(lambda, where, fn, payload) };
}

/** Connect for `config`: the deployment's settings and S3, not its fleets (they are what `config` handles). */
async function connectStore(
  invocation: Extract<Invocation, { command: unknown }>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<ConfigStoreConnection> {
  const settings = await resolveAwsSettings(invocation, env);
  logger.setLogLevel(invocation.verbose ? 'INFO' : 'SILENT');
  const { lambda, s3 } = createClients({ lambda: LambdaClient, s3: S3Client }, settings);
  return { s3, settings: await loadDeploymentSettings(lambda, invocation.stage, settings.region) };
}

/** Connect to read the account the fleets name: EC2 and SSM in the region, no deployment needed. */
async function connectAccount(
  invocation: Extract<Invocation, { command: unknown }>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<AccountConnection> {
  const settings = await resolveAwsSettings(invocation, env);
  return { ...createClients({ ec2: EC2Client, ssm: SSMClient }, settings), region: settings.region };
}

/** Whether a command line asks for JSON, read loosely: errors are printed in the form asked even if it is wrong. */
const wantsJson = (argv: readonly string[]) =>
  argv.some(
    (arg, index) =>
      arg === '--json' || arg === '--output=json' || (arg === '--output' && argv[index + 1] === 'json'),
  );

/**
 * Runs one CLI command: parse, connect, run; resolves to the process exit code (0 done, 1 failed, 2 usage). Every
 * argument, the stage, the profile and the region are checked before the first AWS call.
 */
export async function runCli(
  argv: readonly string[],
  io: CliOutput,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  let json = wantsJson(argv);
  try {
    const invocation = parseInvocation(argv);
    if ('print' in invocation) {
      io.out(invocation.print);
      return invocation.code;
    }
    json = invocation.output === 'json';
    const { result, text } = await invocation.command.run(
      {
        deployment: () => connect(invocation, env),
        store: () => connectStore(invocation, env),
        functions: () => connectFunctions(invocation, env),
        account: () => connectAccount(invocation, env),
      },
      invocation.args,
    );
    io.out(json ? JSON.stringify(result, null, 2) : text);
    return 0;
  } catch (error) {
    const { name, message, usage, fn } = describeFailure(error as Error);
    io.err(
      json
        ? JSON.stringify({ error: name, message, ...(fn === undefined ? {} : { function: fn }) })
        : `worker-fleet: ${message}${usage ? ' (see --help)' : ''}`,
    );
    return usage ? 2 : 1;
  }
}

/**
 * What a failure is called and says. The operator's input or environment: its message alone. A deployed function's
 * error: the function's own error, as its message alone when it refused the operator's input (an unknown fleet, a
 * protected worker), else named with the function that failed.
 */
function describeFailure(failure: Error) {
  if (failure instanceof FunctionFailedError) {
    const expected = EXPECTED_ERRORS.has(failure.errorType);
    return {
      name: failure.errorType,
      message: expected ? failure.errorMessage : failure.message,
      usage: false,
      fn: failure.functionName,
    };
  }
  const usage = failure.name === 'UsageError';
  const message =
    usage || EXPECTED_ERRORS.has(failure.name)
      ? failure.message
      : failure.name === 'CredentialsProviderError'
        ? 'no AWS credentials: pass --profile, set AWS_PROFILE, or configure the standard credential chain'
        : `${failure.name}: ${failure.message}`;
  return { name: failure.name, message, usage, fn: undefined };
}
