/**
 * How the region resolves, one row per rule of docs/cli.md's table: the CLI (test/unit/cli/aws-settings.test.ts)
 * and the deploy (test/integration/deploy-region.test.ts) are held to the same rows. In every row the shared
 * config file is CONFIG_FILE.
 */
export const CONFIG_FILE = `[default]
region = ap-south-1

[profile dev]
region = eu-north-1

[profile bare]
output = json
`;

export interface RegionCase {
  readonly rule: string;
  readonly flag?: string;
  /** The profile named on the command line: --profile for the CLI, --aws-profile for the deploy. */
  readonly profileFlag?: string;
  readonly env: Readonly<Record<string, string>>;
  /** No shared config file at all. */
  readonly noConfigFile?: boolean;
  /** The region both resolve to; undefined: the CLI refuses (exit 2), the deploy takes us-east-1. */
  readonly region?: string;
}

const ALL_ENV = { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-2', AWS_PROFILE: 'dev' };

export const REGION_CASES: readonly RegionCase[] = [
  { rule: '--region first', flag: 'sa-east-1', env: ALL_ENV, region: 'sa-east-1' },
  { rule: 'then AWS_REGION', env: ALL_ENV, region: 'eu-west-1' },
  {
    rule: 'then AWS_DEFAULT_REGION',
    env: { AWS_DEFAULT_REGION: 'eu-west-2', AWS_PROFILE: 'dev' },
    region: 'eu-west-2',
  },
  { rule: "then AWS_PROFILE's region", env: { AWS_PROFILE: 'dev' }, region: 'eu-north-1' },
  { rule: "then the named profile's region", profileFlag: 'dev', env: {}, region: 'eu-north-1' },
  { rule: "then the default profile's region", env: {}, region: 'ap-south-1' },
  { rule: 'a profile without a region: none', env: { AWS_PROFILE: 'bare' } },
  { rule: 'no config file: none', env: {}, noConfigFile: true },
];
