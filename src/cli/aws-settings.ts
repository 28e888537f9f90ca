import { loadSharedConfigFiles } from '@smithy/core/config';
import { UsageError } from './usage-error';

type Env = Readonly<Record<string, string | undefined>>;

/** Where a region came from, as docs/cli.md's resolution table names it. */
export type RegionSource = '--region' | 'AWS_REGION' | 'AWS_DEFAULT_REGION' | 'profile';

export interface RegionChoice {
  readonly region: string;
  readonly source: RegionSource;
}

/**
 * The region by the AWS CLI's precedence: `--region`, then `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the
 * profile's `region`. Undefined when none is set: the CLI never guesses one (deploy falls back to us-east-1).
 */
export function chooseRegion(flag: string | undefined, env: Env, profileRegion: string | undefined) {
  const candidates: readonly [RegionSource, string | undefined][] = [
    ['--region', flag],
    ['AWS_REGION', env.AWS_REGION],
    ['AWS_DEFAULT_REGION', env.AWS_DEFAULT_REGION],
    ['profile', profileRegion],
  ];
  for (const [source, region] of candidates) {
    if (region !== undefined && region !== '') return { region, source } satisfies RegionChoice;
  }
  return undefined;
}

export interface AwsSettings {
  readonly region: string;
  /** The profile named by `--profile` or `AWS_PROFILE`; undefined for the default credential chain. */
  readonly profile?: string;
}

/**
 * The region and profile a command runs with, read from the shared config and credentials files the way the SDK
 * reads them (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ~/.aws). A named profile that neither file holds, or no
 * region anywhere, is a UsageError: nothing has been asked of AWS yet.
 */
export async function resolveAwsSettings(
  options: { readonly region?: string; readonly profile?: string },
  env: Env = process.env,
): Promise<AwsSettings> {
  const named = options.profile ?? (env.AWS_PROFILE === '' ? undefined : env.AWS_PROFILE);
  const files = await loadSharedConfigFiles({
    ignoreCache: true,
    ...(env.AWS_CONFIG_FILE === undefined ? {} : { configFilepath: env.AWS_CONFIG_FILE }),
    ...(env.AWS_SHARED_CREDENTIALS_FILE === undefined ? {} : { filepath: env.AWS_SHARED_CREDENTIALS_FILE }),
  });
  const profile = named ?? 'default';
  if (
    named !== undefined &&
    files.configFile[named] === undefined &&
    files.credentialsFile[named] === undefined
  ) {
    const from = options.profile === undefined ? 'AWS_PROFILE' : '--profile';
    throw new UsageError(
      `the profile "${named}" (${from}) is in neither the AWS config file nor the credentials file`,
    );
  }
  const choice = chooseRegion(options.region, env, files.configFile[profile]?.region);
  if (choice === undefined) {
    throw new UsageError(
      `no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set a region in the profile "${profile}"`,
    );
  }
  return named === undefined ? { region: choice.region } : { region: choice.region, profile: named };
}
