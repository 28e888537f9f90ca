import type { ParseArgsConfig } from 'node:util';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Config, Settings } from '../config';
import { FLEET_NAME } from '../model/fleet-spec';
import type { FleetState } from '../model/fleet-state';
import { UsageError } from './usage-error';

/** A command's own options, in `node:util` parseArgs' terms (never `multiple`). */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs gives for a command line: every option by name. */
export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** A deployed stage, connected to read: its configuration and the clients `status` reads with. Nothing here writes. */
export interface Connected {
  readonly config: Config;
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly state: FleetState;
  readonly cloudwatch: CloudWatchClient;
  readonly now: () => Date;
}

/** The deployed functions a command asks to act: every change the CLI makes is one of their invocations. */
export type DeployedFunction = 'launchWorkers' | 'reapIdleWorkers';

export interface DeployedFunctions {
  /** Invokes the stage's function and waits for its result; a function error is a FunctionFailedError. */
  invoke(fn: DeployedFunction, payload: unknown): Promise<unknown>;
}

/** How a command reaches the deployment, each only when it needs it: connecting makes no change. */
export interface Connections {
  /** Its settings and fleets, and clients to read (`status`). */
  readonly deployment: () => Promise<Connected>;
  /** Its settings and S3 alone (`config`). */
  readonly store: () => Promise<ConfigStoreConnection>;
  /** Its functions (`launch`, `reap`, `drain`): lambda:InvokeFunction is all the operator needs. */
  readonly functions: () => Promise<DeployedFunctions>;
  /** The account and region alone, to read what fleets name (`config validate --account`, `config push`). */
  readonly account: () => Promise<AccountConnection>;
}

/** Read-only clients for the account the fleets run in, and its region. */
export interface AccountConnection {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly region: string;
}

/** What `config push` and `config show` need: the deployment's settings (its state bucket) and an S3 client. */
export interface ConfigStoreConnection {
  readonly s3: S3Client;
  readonly settings: Settings;
}

/** What a command ran to: the result `--output json` prints, and the text `--output table` prints. */
export interface CommandOutcome {
  readonly result: unknown;
  readonly text: string;
}

/**
 * One subcommand, a row of the CLI's COMMANDS table. `parse` checks its arguments and throws a UsageError before
 * anything reaches AWS; `run` connects (to the stage named by the common options) only if it needs to.
 */
export interface CliCommand<Args> {
  /** Its line in `worker-fleet --help`: usage, then what it does. */
  readonly summary: readonly [usage: string, purpose: string];
  /** Its own `--help`, after the usage line. */
  readonly help: string;
  readonly options: CommandOptions;
  parse(values: OptionValues, positionals: readonly string[]): Args;
  run(connect: Connections, args: Args): Promise<CommandOutcome>;
}

/** A string option's value, or undefined; a UsageError when `required` and missing. */
export function stringOption(values: OptionValues, name: string, required?: string): string | undefined {
  const value = values[name];
  if (typeof value === 'string') return value;
  if (required !== undefined) throw new UsageError(`${required} needs --${name} <${name}>`);
  return undefined;
}

/** `--fleet`, checked by the fleets file's own rule; a UsageError when `required` and missing. */
export function fleetOption(values: OptionValues, required?: string): string | undefined {
  const fleet = stringOption(values, 'fleet', required);
  if (fleet !== undefined && !FLEET_NAME.test(fleet)) {
    throw new UsageError(`--fleet: fleet names are lower-case letters, digits and dashes, not "${fleet}"`);
  }
  return fleet;
}

/**
 * A count given on the command line: plain decimal digits, above 0. `Number()` would take `0x10`, `1e3`, `+3`,
 * `3.0` and ` 3`; an operator who typed those meant something else, so they are refused.
 */
export function parseCount(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const count = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(Number.isSafeInteger(count) && count > 0)) {
    throw new UsageError(`--${name} must be a whole number above 0 in plain digits, not "${raw}"`);
  }
  return count;
}
