import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServerless } from '../../local/serverless-cli';

/** Where the global setup left the packaged stack, for the test files of the `template` project. */
const PACKAGE_DIR = 'WORKER_FLEET_PACKAGED_STACK';

/** The stage the template tests package: its functions are named `worker-fleet-test-<name>`. */
export const STAGE = 'test';

export interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; Condition?: string }>;
}

/**
 * The `template` project's global setup: packages the stack once (offline, stage `test`) for all its test files.
 * Test workers start after it and inherit the directory through the environment.
 */
export default async function packageStack(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-template-'));
  const run = await runServerless(undefined, ['package', '--stage', STAGE, '--package', dir]);
  if (run.code !== 0) throw new Error(`serverless package failed:\n${run.output}`);
  process.env[PACKAGE_DIR] = dir;
}

/** The directory `serverless package` wrote: the templates and each function's zip. */
export function packagedDir(): string {
  const dir = process.env[PACKAGE_DIR];
  if (dir === undefined) throw new Error(`${PACKAGE_DIR} is not set: run the template tests through jest`);
  return dir;
}

/** The CloudFormation template `serverless deploy` would update the stack with. */
export function packagedTemplate(): Template {
  return JSON.parse(readFileSync(join(packagedDir(), 'cloudformation-template-update-stack.json'), 'utf8'));
}
