import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import {
  FLEET_CONFIG_KEY,
  type FleetConfigVersion,
  headFleetConfig,
  readFleetConfig,
  validateFleetConfig,
  writeFleetConfig,
} from '../aws/fleet-config-store';
import { FleetConfigError } from '../errors';
import type { FleetSpec } from '../model/fleet-spec';
import type { CliCommand, CommandOutcome, ConfigStoreConnection } from './command';
import { describeFleetConfigChange, diffFleetConfigs } from './fleet-config-diff';
import { UsageError } from './usage-error';

const CONFIG_HELP = `The fleets of the deployment, in its fleet configuration store (config/fleets.json in the state bucket):
  validate   checks a fleets file (YAML or JSON) with the functions' schema, offline: nothing is sent
  push       validates the file, then replaces the stored document, on the condition that nothing else wrote
             it meanwhile (the functions use it within 30 seconds; a deploy never overwrites a pushed document)
             --dry-run: prints what it would change (fleets added, removed, changed field by field) against the
             stored document, and writes nothing
  show       the stored document and its version`;

const SUBCOMMANDS = { validate: 1, push: 1, show: 0 } as const;

/** `config`'s arguments, a subcommand and its file, checked; a UsageError says what is wrong. */
function parseConfigArgs(positionals: readonly string[], dryRun: boolean): ConfigArgs {
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
  return { subcommand: name, file: rest[0] ?? '', dryRun };
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
  try {
    const specs = validateFleetConfig(document);
    return {
      document,
      fleets: Object.keys(specs),
      specs,
      bytes: Buffer.byteLength(JSON.stringify(document)),
    };
  } catch (error) {
    throw new FleetConfigError(`${file}: ${(error as Error).message}`);
  }
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
}

/**
 * `config validate|push|show`. `validate` never connects; `push` validates the file before it connects, so a
 * refused document sends nothing, then writes on the condition that the stored document is still the one it saw.
 */
async function runConfigCommand(
  args: ConfigArgs,
  connect: () => Promise<ConfigStoreConnection>,
): Promise<CommandOutcome> {
  const { subcommand, file } = args;
  if (subcommand === 'validate') {
    const { fleets, bytes } = readFleetsFile(file);
    return {
      result: { file, valid: true, fleets, bytes },
      text: `${file}: valid, ${fleets.length} fleet${fleets.length === 1 ? '' : 's'} (${fleets.join(', ')}), ${bytes} bytes as JSON`,
    };
  }
  if (subcommand === 'push' && args.dryRun) {
    const { specs } = readFleetsFile(file);
    const { s3, settings } = await connect();
    const where = `s3://${settings.stateBucket}/${FLEET_CONFIG_KEY}`;
    const stored = await readFleetConfig(s3, settings.stateBucket);
    const change = diffFleetConfigs(stored?.fleets ?? {}, specs);
    return {
      result: { location: where, dryRun: true, version: stored?.version, change },
      text: [
        `dry run: ${file} against ${where}${stored === undefined ? ' (nothing stored yet)' : `, ${versionText(stored.version)}`}; nothing written`,
        ...describeFleetConfigChange(change),
      ].join('\n'),
    };
  }
  if (subcommand === 'push') {
    const { document, fleets } = readFleetsFile(file);
    const { s3, settings } = await connect();
    const where = `s3://${settings.stateBucket}/${FLEET_CONFIG_KEY}`;
    const previous = await headFleetConfig(s3, settings.stateBucket);
    const version = await writeFleetConfig(
      s3,
      settings.stateBucket,
      document,
      'config-push',
      previous ?? { absent: true },
    );
    return {
      result: { location: where, fleets, version, previous },
      text: [
        `pushed ${file} to ${where}: ${fleets.join(', ')}`,
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
    'config validate <file> | push <file> [--dry-run] | show',
    'the fleets: check a file, push it, show what is stored',
  ],
  help: CONFIG_HELP,
  options: { 'dry-run': { type: 'boolean', default: false } },
  parse: (values, positionals) => parseConfigArgs(positionals, values['dry-run'] === true),
  // `config` connects only for push and show, and never reads the fleets it replaces.
  run: (connect, args) => runConfigCommand(args, connect.store),
};
