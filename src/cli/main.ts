import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createClients } from '../aws/clients';
import type { Config } from '../config';
import { drainWorker } from '../fleet/drain-worker';
import { type FleetStatus, fleetStatus } from '../fleet/fleet-status';
import { launchWorkers } from '../fleet/launch-workers';
import { reapIdleWorkers } from '../fleet/reap-idle-workers';
import { logger } from '../logger';
import { CONFIG_HELP, configUsageProblem, runConfigCommand } from './config-command';
import { loadDeployment, loadDeploymentSettings } from './deployment';

export interface CliOutput {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const COMMON = `Options:
  --stage <stage>     the deployment's stage (default: dev)
  --region <region>   AWS region (default: AWS_REGION or the profile's)
  --profile <name>    AWS profile (default: AWS_PROFILE, then the standard credential chain)
  --json              machine-readable output
  --verbose           the core's structured JSON logs
  --help              this help
AWS_ENDPOINT_URL is honoured (the local emulator, for instance).`;

const HELP: Readonly<Record<string, string>> = {
  '': `Usage: worker-fleet <command> [options]

Commands:
  status [--fleet <fleet>]                 workers, idle verdicts, interruptions and risky pools
  launch --fleet <fleet> [--count <n>]     launch workers now (to the target, or n more)
  reap --fleet <fleet> [--dry-run]         judge and reap idle workers now
  drain <instance-id>                      mark one worker as retired and terminate it
  config validate|push <file>, config show the fleets: check a file, push it, show what is stored

${COMMON}`,
  status: `Usage: worker-fleet status [--fleet <fleet>]\n\nEvery running worker of the fleet (or of every fleet): type, AZ, market, state, age, last heartbeat, the idle\nreaper's verdict and why, interruption and replacement; the target capacity; the spot pools avoided and why.\n\n${COMMON}`,
  launch: `Usage: worker-fleet launch --fleet <fleet> [--count <n>]\n\nBrings the fleet to its target capacity, or launches n more workers (bounded by maxCapacity), through the\nlauncher's own code.\n\n${COMMON}`,
  reap: `Usage: worker-fleet reap --fleet <fleet> [--dry-run]\n\nOne run of the idle reaper for the fleet: marks idle workers, terminates those marked long enough.\n--dry-run reports what it would do and changes nothing.\n\n${COMMON}`,
  config: `${CONFIG_HELP}\n\n${COMMON}`,
  drain: `Usage: worker-fleet drain <instance-id>\n\nMarks a worker of this deployment as retired (so it is not replaced) and terminates it. Instances without the\ndeployment's managed-by tag are refused.\n\n${COMMON}`,
};

class UsageError extends Error {
  override name = 'UsageError';
}

/** Errors that are the operator's input or environment, printed as their message alone. */
const EXPECTED_ERRORS = new Set([
  'ConfigError',
  'InvalidEventError',
  'UnknownFleetError',
  'NotAWorkerError',
  'DeploymentNotFoundError',
  'FleetConfigError',
  'FleetConfigChangedError',
]);

function table(rows: readonly Record<string, string>[]): string {
  const first = rows[0];
  if (first === undefined) return '';
  const columns = Object.keys(first);
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((column) => column.toUpperCase())),
    ...rows.map((row) => line(columns.map((c) => row[c] ?? ''))),
  ].join('\n');
}

const minutes = (value: number | undefined) => (value === undefined ? '-' : `${value}m`);

function statusText(statuses: readonly FleetStatus[]): string {
  const parts: string[] = [];
  for (const status of statuses) {
    parts.push(
      `fleet ${status.fleet}: ${status.workers.length} running, target ${status.targetCapacity}${
        status.maxCapacity === undefined ? '' : `, max ${status.maxCapacity}`
      }`,
    );
    if (status.workers.length > 0) {
      parts.push(
        table(
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
          })),
        ),
      );
    }
    const risky = status.riskyPools.map((pool) => `  ${pool.pool}: score ${pool.score}, ${pool.reason}`);
    parts.push(risky.length === 0 ? 'risky pools: none' : ['risky pools:', ...risky].join('\n'), '');
  }
  return parts.join('\n');
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        stage: { type: 'string', default: 'dev' },
        region: { type: 'string' },
        profile: { type: 'string' },
        fleet: { type: 'string' },
        count: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

type CommandName = 'status' | 'launch' | 'reap' | 'drain' | 'config';

/** A command line, checked: what to run and with what, before any AWS call. */
interface Invocation {
  readonly command: CommandName;
  readonly stage: string;
  readonly region?: string;
  readonly profile?: string;
  readonly fleet?: string;
  readonly count?: number;
  readonly dryRun: boolean;
  readonly instanceId?: string;
  /** The positional arguments after the command (`config`'s subcommand and file). */
  readonly args: readonly string[];
  readonly verbose: boolean;
}

/** Parse: the command line as an invocation, a help text to print, or a UsageError saying what is wrong. */
function parseInvocation(
  argv: readonly string[],
): Invocation | { readonly help: string; readonly code: number } {
  const { values, positionals } = parse(argv);
  const [command = '', ...rest] = positionals;
  if (values.help || command === '' || command === 'help') {
    const topic = command === 'help' ? (rest[0] ?? '') : command;
    return { help: HELP[topic] ?? HELP[''] ?? '', code: command === '' && !values.help ? 2 : 0 };
  }
  if (!isCommand(command)) throw new UsageError(`unknown command "${command}"`);
  const count = values.count === undefined ? undefined : Number(values.count);
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
    throw new UsageError(`--count must be a whole number above 0, not "${values.count}"`);
  }
  if ((command === 'launch' || command === 'reap') && values.fleet === undefined) {
    throw new UsageError(`${command} needs --fleet <fleet>`);
  }
  if (command === 'drain' && rest.length !== 1) throw new UsageError('drain needs exactly one instance id');
  const configProblem = command === 'config' ? configUsageProblem(rest) : undefined;
  if (configProblem !== undefined) throw new UsageError(configProblem);
  return {
    command,
    stage: values.stage,
    region: values.region,
    profile: values.profile,
    fleet: values.fleet,
    count,
    dryRun: values['dry-run'],
    instanceId: rest[0],
    args: rest,
    verbose: values.verbose,
  };
}

const isCommand = (command: string): command is CommandName => command in COMMANDS || command === 'config';

/** The region, and a Lambda client to find the deployment's launcher with. */
async function connectRegion(invocation: Invocation) {
  if (invocation.profile !== undefined) process.env.AWS_PROFILE = invocation.profile;
  logger.setLogLevel(invocation.verbose ? 'INFO' : 'SILENT');
  const { lambda } = createClients(
    { lambda: LambdaClient },
    invocation.region === undefined ? {} : { region: invocation.region },
  );
  const region = await lambda.config.region().catch(() => {
    throw new UsageError('no AWS region: pass --region, or set AWS_REGION or a region in your profile');
  });
  return { lambda, region };
}

/** Connect for `config`: the deployment's settings and S3, not its fleets (they are what `config` handles). */
async function connectConfigStore(invocation: Invocation) {
  const { lambda, region } = await connectRegion(invocation);
  const settings = await loadDeploymentSettings(lambda, invocation.stage, region);
  return { ...createClients({ s3: S3Client }, { region }), settings };
}

/** Connect: the region, the deployment's configuration (read from its launcher), and the core's clients. */
async function connect(invocation: Invocation) {
  const { lambda, region } = await connectRegion(invocation);
  const config: Config = await loadDeployment(lambda, invocation.stage, region);
  const clients = createClients(
    { ec2: EC2Client, s3: S3Client, sns: SNSClient, ssm: SSMClient, cloudwatch: CloudWatchClient },
    { region },
  );
  return { ...clients, config, logger, now: () => new Date() };
}

type Connected = Awaited<ReturnType<typeof connect>>;
type CommandOutcome = { readonly result: unknown; readonly text: string };

/** Each command: the core operation it runs, and how its result reads. */
const COMMANDS: Readonly<
  Record<Exclude<CommandName, 'config'>, (deps: Connected, invocation: Invocation) => Promise<CommandOutcome>>
> = {
  status: async (deps, { fleet }) => {
    const statuses = await fleetStatus(
      deps,
      fleet === undefined ? Object.keys(deps.config.fleets) : [fleet],
      deps.now(),
    );
    return { result: statuses, text: statusText(statuses) };
  },
  launch: async (deps, { fleet, count }) => {
    const [launched] = await launchWorkers(deps, {
      kind: 'direct',
      id: `cli-${randomUUID()}`,
      fleet,
      ...(count === undefined ? {} : { count }),
    });
    const ids = launched?.launched.map((worker) => worker.instanceId) ?? [];
    return {
      result: launched,
      text: `fleet ${launched?.fleet}: ${launched?.status}, launched ${ids.length}${ids.length > 0 ? `: ${ids.join(' ')}` : ''}`,
    };
  },
  reap: async (deps, { fleet, dryRun }) => {
    const [reaped] = await reapIdleWorkers(deps, { fleet, dryRun });
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
  drain: async (deps, { instanceId }) => {
    const drained = await drainWorker(deps, instanceId ?? '');
    return { result: drained, text: `${drained.instanceId} (fleet ${drained.fleet}): ${drained.status}` };
  },
};

/** Runs one CLI command: parse, connect, run; resolves to the process exit code (0 done, 1 failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliOutput): Promise<number> {
  const json = argv.includes('--json');
  try {
    const invocation = parseInvocation(argv);
    if ('help' in invocation) {
      io.out(invocation.help);
      return invocation.code;
    }
    // `config` connects only for push and show, and never reads the fleets it replaces.
    const { result, text } =
      invocation.command === 'config'
        ? await runConfigCommand(invocation.args, () => connectConfigStore(invocation))
        : await COMMANDS[invocation.command](await connect(invocation), invocation);
    io.out(json ? JSON.stringify(result, null, 2) : text);
    return 0;
  } catch (error) {
    const failure = error as Error;
    const usage = failure.name === 'UsageError';
    const message =
      usage || EXPECTED_ERRORS.has(failure.name)
        ? failure.message
        : failure.name === 'CredentialsProviderError'
          ? 'no AWS credentials: pass --profile, set AWS_PROFILE, or configure the standard credential chain'
          : `${failure.name}: ${failure.message}`;
    io.err(
      json
        ? JSON.stringify({ error: failure.name, message })
        : `worker-fleet: ${message}${usage ? ' (see --help)' : ''}`,
    );
    return usage ? 2 : 1;
  }
}
