import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServerless } from '../../local/serverless-cli';
import { CONFIG_FILE, REGION_CASES } from '../region-resolution-cases';

// Needs no emulator: `serverless print` resolves serverless.yml offline, with the framework's own variable resolution.
const folder = mkdtempSync(join(tmpdir(), 'worker-fleet-deploy-region-'));
writeFileSync(join(folder, 'config'), CONFIG_FILE);

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('serverless deploy resolves the region as the CLI does (the same rows)', () => {
  it.concurrent.each(REGION_CASES.map((row) => [row.rule, row] as const))('%s', async (_rule, row) => {
    const run = await runServerless(
      undefined,
      [
        'print',
        '--path',
        'provider.region',
        ...(row.flag === undefined ? [] : ['--region', row.flag]),
        ...(row.profileFlag === undefined ? [] : ['--aws-profile', row.profileFlag]),
      ],
      {
        AWS_REGION: undefined,
        AWS_DEFAULT_REGION: undefined,
        AWS_PROFILE: undefined,
        AWS_CONFIG_FILE: join(folder, row.noConfigFile ? 'missing' : 'config'),
        ...row.env,
      },
    );

    // Where the CLI refuses (no region anywhere), the deploy keeps the framework's default.
    expect({ code: run.code, region: run.output.trim().split('\n').pop() }).toEqual({
      code: 0,
      region: row.region ?? 'us-east-1',
    });
  });
});
