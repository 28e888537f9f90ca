import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Emulator } from './emulator';

const ROOT = join(__dirname, '..');

export interface CliRun {
  readonly code: number | null;
  readonly output: string;
}

/**
 * Runs the project's Serverless Framework CLI with dummy credentials and every AWS call pointed at the emulator
 * (or, without one, at an address that answers nothing, for commands that must work offline such as `package`).
 */
export function runServerless(
  emulator: Emulator | undefined,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(ROOT, 'node_modules', '.bin', 'serverless'), [...args], {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: emulator?.endpoint ?? 'http://127.0.0.1:9',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_REGION: 'us-east-1',
        SLS_TELEMETRY_DISABLED: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}
