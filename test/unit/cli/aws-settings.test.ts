import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseRegion, resolveAwsSettings } from '../../../src/cli/aws-settings';
import { CONFIG_FILE, REGION_CASES } from '../../region-resolution-cases';

let folder: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'worker-fleet-region-'));
  writeFileSync(join(folder, 'config'), CONFIG_FILE);
  writeFileSync(join(folder, 'credentials'), '[dev]\naws_access_key_id = A\naws_secret_access_key = B\n');
});

afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe('the CLI resolves the region as the AWS CLI does', () => {
  it.each(REGION_CASES.map((row) => [row.rule, row] as const))('%s', async (_rule, row) => {
    const env = {
      ...row.env,
      AWS_CONFIG_FILE: join(folder, row.noConfigFile ? 'missing' : 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(folder, 'credentials'),
    };

    const settings = resolveAwsSettings({ region: row.flag, profile: row.profileFlag }, env);

    if (row.region === undefined) {
      await expect(settings).rejects.toMatchObject({ name: 'UsageError', message: /^no AWS region/ });
    } else {
      await expect(settings).resolves.toMatchObject({ region: row.region });
    }
  });

  it('keeps the profile it was given for the credentials, and none when none was named', async () => {
    const files = {
      AWS_CONFIG_FILE: join(folder, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(folder, 'credentials'),
    };

    expect(await resolveAwsSettings({ profile: 'dev' }, files)).toEqual({
      region: 'eu-north-1',
      profile: 'dev',
    });
    expect(await resolveAwsSettings({}, { ...files, AWS_PROFILE: 'dev' })).toEqual({
      region: 'eu-north-1',
      profile: 'dev',
    });
    expect(await resolveAwsSettings({}, files)).toEqual({ region: 'ap-south-1' });
  });

  it('treats an empty variable as unset, and names where the region came from', () => {
    expect(
      chooseRegion(undefined, { AWS_REGION: '', AWS_DEFAULT_REGION: 'eu-west-2' }, 'eu-north-1'),
    ).toEqual({
      region: 'eu-west-2',
      source: 'AWS_DEFAULT_REGION',
    });
    expect(chooseRegion(undefined, {}, 'eu-north-1')).toEqual({ region: 'eu-north-1', source: 'profile' });
    expect(chooseRegion(undefined, {}, undefined)).toBeUndefined();
  });
});
