import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { version } from '../../../package.json';
import { runCli } from '../../../src/cli/main';

let folder: string;
let env: Record<string, string | undefined>;
// A call that slipped through is recorded and fails here, never reaching the network.
const sends = [LambdaClient, EC2Client].map((Client) =>
  jest.spyOn(Client.prototype, 'send').mockImplementation(() => {
    throw new Error('no AWS call in unit tests');
  }),
);

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'worker-fleet-cli-'));
  writeFileSync(join(folder, 'config'), '[profile dev]\nregion = eu-west-1\n');
  writeFileSync(join(folder, 'credentials'), '[dev]\naws_access_key_id = A\naws_secret_access_key = B\n');
  env = {
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(folder, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(folder, 'credentials'),
  };
  for (const send of sends) send.mockClear();
});

afterEach(() => rmSync(folder, { recursive: true, force: true }));

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (text) => out.push(text), err: (text) => err.push(text) }, env);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('worker-fleet arguments', () => {
  it.each([
    [
      ['launch', '--fleet', 'batch', '--count', '0x10'],
      '--count must be a whole number above 0 in plain digits, not "0x10"',
    ],
    [['launch', '--fleet', 'batch', '--count', '1e3'], 'not "1e3"'],
    [['launch', '--fleet', 'batch', '--count', '+3'], 'not "+3"'],
    [['launch', '--fleet', 'batch', '--count', '3.0'], 'not "3.0"'],
    [['launch', '--fleet', 'batch', '--count', ' 3'], 'not " 3"'],
    [['launch', '--fleet', 'batch', '--count', '0'], 'not "0"'],
    [['launch', '--fleet', 'batch', '--count', 'two'], 'not "two"'],
    [['launch', '--fleet', 'batch', '--count', '99999999999999999999'], 'not "99999999999999999999"'],
    [['launch'], 'launch needs --fleet <fleet>'],
    [['reap'], 'reap needs --fleet <fleet>'],
    [['drain'], 'drain needs exactly one instance id'],
    [['drain', 'i-0123456789abcdef0', 'i-0123456789abcdef1'], 'drain needs exactly one instance id'],
    [['drain', 'web-1'], '"web-1" is not an instance id such as i-0123456789abcdef0'],
    [['status', '--stage', 'prod_eu'], '--stage must be 1 to 32 letters, digits and dashes, not "prod_eu"'],
    [['status', '--stage', 'x'.repeat(33)], '--stage must be 1 to 32 letters, digits and dashes'],
    [['status', '--stage', ''], '--stage must be 1 to 32 letters, digits and dashes, not ""'],
    [['status', '--output', 'yaml'], '--output must be json or table, not "yaml"'],
    [['status', '--json', '--output', 'table'], '--json and --output table disagree'],
    [['status', '--colour'], 'status has no option --colour (see --help)'],
    [['status', '--count', '3'], 'status has no option --count (see --help)'],
    [['status', '--force'], 'status has no option --force (see --help)'],
    [['reap', '--fleet', 'batch', '--force'], 'reap has no option --force (see --help)'],
    [['launch', '--fleet', 'batch', '--cout', '3'], 'launch has no option --cout; did you mean --count?'],
    [['reap', '--fleet', 'batch', '--dryrun'], 'reap has no option --dryrun; did you mean --dry-run?'],
    [['reap', '--fleet', 'batch', '--dry'], 'reap has no option --dry; did you mean --dry-run?'],
    [['drain', 'i-0123456789abcdef0', '--shrnk'], 'drain has no option --shrnk; did you mean --shrink?'],
    [['status', '--regoin', 'eu-west-1'], 'status has no option --regoin; did you mean --region?'],
    [['config', 'push', 'fleets.yml', '--fleat', 'x'], 'config has no option --fleat'],
    [['status', '--stag', 'dev'], 'status has no option --stag; did you mean --stage?'],
    [['status', '-x'], 'status has no option -x (see --help)'],
    [['status', '--fleet'], 'status: --fleet needs a value (--fleet <fleet>)'],
    [['reap', '--fleet', 'batch', '--dry-run=yes'], 'reap: --dry-run takes no value'],
    [['status', '--fleet', '--verbose'], 'status: --fleet needs a value (--fleet <fleet>)'],
    [
      ['status', '--fleet', 'Batch'],
      '--fleet: fleet names are lower-case letters, digits and dashes, not "Batch"',
    ],
    [['reap', '--fleet', 'batch/../x'], 'not "batch/../x"'],
    [['resize'], 'unknown command "resize"'],
    [['resize', '--colour'], 'unknown command "resize"'],
    [['scale'], 'scale needs a fleet and a size: scale <fleet> <n>'],
    [['scale', 'batch', '2', '--colour'], 'scale has no option --colour (see --help)'],
    [['scale', 'batch', '-1'], 'scale has no option -1 (see --help)'],
    [['toString', '--help'], 'unknown command "toString"'],
    [['status', '--profile', 'prod'], 'the profile "prod" (--profile) is in neither the AWS config file nor'],
  ])('%j is refused with exit 2, a clear message, and no AWS call', async (args, message) => {
    const { code, out, err } = await cli(...(args as string[]));

    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toContain(message);
    if (!args.includes('--json')) expect(err).toMatch(/^worker-fleet: .*\(see --help\)$/);
    for (const send of sends) expect(send).not.toHaveBeenCalled();
  });

  it('refuses a profile named by AWS_PROFILE that no file holds, before any call', async () => {
    env.AWS_PROFILE = 'staging';

    const { code, err } = await cli('status');

    expect(code).toBe(2);
    expect(err).toContain('the profile "staging" (AWS_PROFILE) is in neither');
    for (const send of sends) expect(send).not.toHaveBeenCalled();
  });

  it('refuses to guess a region: none from the flag, the environment or the profile is exit 2', async () => {
    env = {
      AWS_CONFIG_FILE: join(folder, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(folder, 'credentials'),
    };

    const { code, err } = await cli('status');

    expect(code).toBe(2);
    expect(err).toContain('no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION');
    for (const send of sends) expect(send).not.toHaveBeenCalled();
  });

  it('prints a refusal as JSON when JSON was asked for, --output json or --json', async () => {
    for (const flags of [['--json'], ['--output', 'json'], ['--output=json']]) {
      const { code, err } = await cli('launch', '--fleet', 'batch', '--count', '1e3', ...flags);

      expect(code).toBe(2);
      expect(JSON.parse(err)).toEqual({
        error: 'UsageError',
        message: '--count must be a whole number above 0 in plain digits, not "1e3"',
      });
    }
  });

  it("--version prints the package's version, alone or after a command", async () => {
    expect(await cli('--version')).toEqual({ code: 0, out: version, err: '' });
    expect(await cli('status', '--version')).toEqual({ code: 0, out: version, err: '' });
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('--help lists every command and the common options; no command at all is usage, exit 2', async () => {
    const help = await cli('--help');
    const bare = await cli();

    expect(help.code).toBe(0);
    for (const command of ['status', 'launch', 'reap', 'drain']) {
      expect(help.out).toMatch(new RegExp(`^  ${command} `, 'm'));
      expect((await cli(command, '--help')).out).toMatch(new RegExp(`^Usage: worker-fleet ${command}`));
      expect((await cli('help', command)).out).toMatch(new RegExp(`^Usage: worker-fleet ${command}`));
    }
    expect(help.out).toContain('--output <json|table>');
    expect(help.out).toContain('--version');
    expect(bare).toMatchObject({ code: 2, out: help.out });
  });
});
