import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { readAccountFacts } from '../aws/account-facts';
import {
  FLEET_CONFIG_KEY,
  type FleetConfigVersion,
  headFleetConfig,
  readFleetConfig,
  validateFleetConfig,
  writeFleetConfig,
} from '../aws/fleet-config-store';
import { FleetConfigError } from '../errors';
import { refusedWindows } from '../fleet/disruption-windows';
import { findOrphans, type OrphanFleet } from '../fleet/orphans';
import { type AccountProblem, checkFleetsAgainstAccount } from '../model/account-check';
import type { FleetSpec } from '../model/fleet-spec';
import type { CliCommand, CommandOutcome, ConfigStoreConnection, Connections } from './command';
import { describeFleetConfigChange, diffFleetConfigs } from './fleet-config-diff';
import { UsageError } from './usage-error';

const CONFIG_HELP = `The fleets of the deployment, in its fleet configuration store (config/fleets.json in the state bucket):
  validate   checks a fleets file (YAML or JSON) with the functions' schema, offline: nothing is sent
             --account: also checks it against the account with read-only calls (images and their architecture,
             instance types and the zones offering them, subnets and their VPC, key pairs, security groups)
  push       validates the file and checks it against the account as --account does, then replaces the stored
             document, on the condition that nothing else wrote it meanwhile (the functions use it within 30
             seconds; a deploy never overwrites a pushed document)
             --dry-run: prints what it would change (fleets added, removed, changed field by field) against the
             stored document, and writes nothing
             --skip-account-check: pushes without asking the account
             --force: pushes a document that leaves live workers without a fleet (a fleet removed while it has
             workers); without it, such a push is refused, naming the fleets and how many workers each has
  show       the stored document and its version`;

const SUBCOMMANDS = { validate: 1, push: 1, show: 0 } as const;

/** The fleets name something the account does not have, or would refuse: nothing was written. */
export class AccountCheckError extends Error {
  override name = 'AccountCheckError';
}

/** A push would leave live workers without a fleet (orphans): nothing was written. */
export class OrphanedWorkersError extends Error {
  override name = 'OrphanedWorkersError';
}

/** The switches `config` takes, as given. */
interface ConfigFlags {
  readonly dryRun: boolean;
  readonly account: boolean;
  readonly skipAccountCheck: boolean;
  readonly force: boolean;
}

/** `config`'s arguments, a subcommand and its file, checked; a UsageError says what is wrong. */
function parseConfigArgs(positionals: readonly string[], flags: ConfigFlags): ConfigArgs {
  const { dryRun } = flags;
  const [subcommand = '', ...rest] = positionals;
  if (!Object.hasOwn(SUBCOMMANDS, subcommand)) {
    throw new UsageError('config needs validate <file>, push <file> or show');
  }
  const name = subcommand as keyof typeof SUBCOMMANDS;
  const files = SUBCOMMANDS[name];
  if (rest.length !== files) {
    throw new UsageError(files === 1 ? `config ${name} needs one file` : `config ${name} takes no file`);
  }
  if (dryRun && name !== 'push')
    throw new UsageError(`--dry-run is for config push; config ${name} writes nothing`);
  if (flags.account && name !== 'validate') {
    throw new UsageError(
      `--account is for config validate; config ${name} ${name === 'push' ? 'checks the account unless --skip-account-check' : 'reads the store only'}`,
    );
  }
  if (flags.skipAccountCheck && name !== 'push')
    throw new UsageError('--skip-account-check is for config push');
  if (flags.force && (name !== 'push' || dryRun))
    throw new UsageError('--force is for config push (not --dry-run)');
  return {
    subcommand: name,
    file: rest[0] ?? '',
    dryRun,
    checkAccount: name === 'validate' ? flags.account : name === 'push' && !flags.skipAccountCheck,
    force: flags.force,
  };
}

const problemLine = (problem: AccountProblem) => `${problem.fleet}: ${problem.field}: ${problem.message}`;

/** The fleets against the account they run in, read-only: every problem RunInstances would meet, named. */
async function checkAccount(
  specs: Readonly<Record<string, FleetSpec>>,
  connect: Connections['account'],
): Promise<{ region: string; problems: AccountProblem[] }> {
  const { ec2, ssm, region } = await connect();
  return {
    region,
    problems: checkFleetsAgainstAccount(specs, await readAccountFacts({ ec2, ssm }, region, specs)),
  };
}

/** `old: 2 workers (i-… i-…)`, for each fleet that has live workers and is not in the document. */
const orphanText = (orphans: readonly OrphanFleet[]) =>
  orphans
    .map(
      ({ fleet, workers }) =>
        `${fleet || '(no fleet tag)'}: ${workers.length} worker${workers.length === 1 ? '' : 's'} (${workers.map((worker) => worker.instanceId).join(' ')})`,
    )
    .join('; ');

/**
 * The deployment's live workers whose fleet the document does not name (a fleet it removes, or one removed before):
 * once pushed, nothing launches for, replaces or judges them as a fleet's.
 */
async function orphansOf(
  fleets: readonly string[],
  settings: ConfigStoreConnection['settings'],
  connect: Connections['account'],
): Promise<OrphanFleet[]> {
  const { ec2 } = await connect();
  return findOrphans({ ec2, owner: settings }, fleets);
}

/** Refuses a file whose fleets the account would refuse, each problem on a line of its own. */
function refuseProblems(
  file: string,
  checked: { readonly region: string; readonly problems: readonly AccountProblem[] },
  verdict: string,
): void {
  const { region, problems } = checked;
  if (problems.length === 0) return;
  throw new AccountCheckError(
    [
      `${file}: ${verdict} ${problems.length} problem${problems.length === 1 ? '' : 's'} in the account (${region}):`,
      ...problems.map((problem) => `  ${problemLine(problem)}`),
    ].join('\n'),
  );
}

/** A fleets file as a document: YAML (JSON is YAML too), validated; a FleetConfigError names what is wrong. */
function readFleetsFile(file: string): {
  document: unknown;
  fleets: readonly string[];
  specs: Record<string, FleetSpec>;
  bytes: number;
} {
  let document: unknown;
  try {
    document = YAML.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FleetConfigError(`${file}: ${(error as Error).message}`);
  }
  let specs: Record<string, FleetSpec>;
  try {
    specs = validateFleetConfig(document);
  } catch (error) {
    throw new FleetConfigError(`${file}: ${(error as Error).message}`);
  }
  const refused = refusedWindows(specs);
  if (refused.length > 0) {
    throw new FleetConfigError(
      `${file}: fleet configuration is invalid: ${refused.map(({ path, message }) => `${path.join('.')}: ${message}`).join('; ')}`,
    );
  }
  return { document, fleets: Object.keys(specs), specs, bytes: Buffer.byteLength(JSON.stringify(document)) };
}

const versionText = (version: FleetConfigVersion) =>
  [
    `version ${version.versionId ?? version.etag}`,
    version.lastModified === undefined ? '' : `, written ${version.lastModified}`,
    version.writtenBy === undefined ? '' : ` by ${version.writtenBy}`,
  ].join('');

interface ConfigArgs {
  readonly subcommand: keyof typeof SUBCOMMANDS;
  /** The fleets file (validate, push); empty for show. */
  readonly file: string;
  /** push only: print the change, write nothing. */
  readonly dryRun: boolean;
  /** validate with --account, push without --skip-account-check: check the fleets against the account first. */
  readonly checkAccount: boolean;
  /** push only: push even if live workers are left without a fleet. */
  readonly force: boolean;
}

/**
 * `config validate|push|show`. `validate` never connects; `push` validates the file before it connects, so a
 * refused document sends nothing, then writes on the condition that the stored document is still the one it saw.
 */
async function runConfigCommand(args: ConfigArgs, connections: Connections): Promise<CommandOutcome> {
  const connect = connections.store;
  const { subcommand, file } = args;
  if (subcommand === 'validate') {
    const { fleets, bytes, specs } = readFleetsFile(file);
    const checked = args.checkAccount ? await checkAccount(specs, connections.account) : undefined;
    if (checked !== undefined) refuseProblems(file, checked, 'valid, but');
    return {
      result: { file, valid: true, fleets, bytes, ...(checked === undefined ? {} : { account: checked }) },
      text: [
        `${file}: valid, ${fleets.length} fleet${fleets.length === 1 ? '' : 's'} (${fleets.join(', ')}), ${bytes} bytes as JSON`,
        ...(checked === undefined ? [] : [`the account (${checked.region}) has everything the fleets name`]),
      ].join('\n'),
    };
  }
  if (subcommand === 'push' && args.dryRun) {
    const { specs } = readFleetsFile(file);
    const checked = args.checkAccount ? await checkAccount(specs, connections.account) : undefined;
    const { s3, settings } = await connect();
    const where = `s3://${settings.stateBucket}/${FLEET_CONFIG_KEY}`;
    const stored = await readFleetConfig(s3, settings.stateBucket);
    const change = diffFleetConfigs(stored?.fleets ?? {}, specs);
    const orphans = await orphansOf(Object.keys(specs), settings, connections.account);
    return {
      result: {
        location: where,
        dryRun: true,
        version: stored?.version,
        change,
        orphans: orphans.map(({ fleet, workers }) => ({ fleet, workers: workers.map((w) => w.instanceId) })),
        ...(checked === undefined ? {} : { account: checked }),
      },
      text: [
        `dry run: ${file} against ${where}${stored === undefined ? ' (nothing stored yet)' : `, ${versionText(stored.version)}`}; nothing written`,
        ...describeFleetConfigChange(change),
        ...(checked?.problems ?? []).map((problem) => `! ${problemLine(problem)} (push refuses this)`),
        ...(orphans.length === 0
          ? []
          : [`! live workers left without a fleet: ${orphanText(orphans)} (push needs --force)`]),
      ].join('\n'),
    };
  }
  if (subcommand === 'push') {
    const { document, fleets, specs } = readFleetsFile(file);
    if (args.checkAccount) {
      refuseProblems(
        file,
        await checkAccount(specs, connections.account),
        'not pushed (--skip-account-check pushes anyway):',
      );
    }
    const { s3, settings } = await connect();
    const where = `s3://${settings.stateBucket}/${FLEET_CONFIG_KEY}`;
    const orphans = await orphansOf(fleets, settings, connections.account);
    if (orphans.length > 0 && !args.force) {
      throw new OrphanedWorkersError(
        `${file}: not pushed: it leaves live workers without a fleet, which nothing would launch for, replace or reap as a fleet's: ${orphanText(orphans)}. Drain them first (worker-fleet drain <id>), or push anyway with --force`,
      );
    }
    const previous = await headFleetConfig(s3, settings.stateBucket);
    const version = await writeFleetConfig(
      s3,
      settings.stateBucket,
      document,
      'config-push',
      previous ?? { absent: true },
    );
    return {
      result: {
        location: where,
        fleets,
        version,
        previous,
        orphans: orphans.map(({ fleet, workers }) => ({ fleet, workers: workers.map((w) => w.instanceId) })),
      },
      text: [
        `pushed ${file} to ${where}: ${fleets.join(', ')}`,
        ...(orphans.length === 0 ? [] : [`left without a fleet (--force): ${orphanText(orphans)}`]),
        `${versionText(version)}${previous === undefined ? '' : ` (was ${previous.versionId ?? previous.etag})`}`,
        'the functions use it within 30 seconds',
      ].join('\n'),
    };
  }
  const { s3, settings } = await connect();
  const where = `s3://${settings.stateBucket}/${FLEET_CONFIG_KEY}`;
  const stored = await readFleetConfig(s3, settings.stateBucket);
  if (stored === undefined) throw new FleetConfigError(`${where} holds no fleet configuration yet`);
  return {
    result: { location: where, version: stored.version, document: stored.document },
    text: `# ${where}, ${versionText(stored.version)}\n${YAML.stringify(stored.document)}`,
  };
}

export const config: CliCommand<ConfigArgs> = {
  summary: [
    'config validate <file> [--account] | push <file> [--dry-run] [--skip-account-check] [--force] | show',
    'the fleets: check a file, push it, show what is stored',
  ],
  help: CONFIG_HELP,
  options: {
    'dry-run': { type: 'boolean', default: false },
    account: { type: 'boolean', default: false },
    'skip-account-check': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
  },
  parse: (values, positionals) =>
    parseConfigArgs(positionals, {
      dryRun: values['dry-run'] === true,
      account: values.account === true,
      skipAccountCheck: values['skip-account-check'] === true,
      force: values.force === true,
    }),
  // `config` connects only for push, show and --account, and never reads the fleets it replaces.
  run: (connect, args) => runConfigCommand(args, connect),
};
