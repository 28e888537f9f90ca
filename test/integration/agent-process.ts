import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../../local/emulator';
import type { FakeImds } from './fake-imds';

const AGENT = join(__dirname, '../../src/agent/worker-agent.sh');
/** The worker role's id, as `agentEnv` writes it (`WF_ROLE_ID`): a worker's keys are `<role-id>:<instance-id>`. */
export const WORKER_ROLE_ID = 'AROAWORKERFLEETTEST01';

/** The worker agent running for real (sh, curl), against a fake metadata service and the emulator's S3. */
export class AgentProcess {
  private constructor(
    readonly process: ChildProcess,
    private readonly logFile: string,
  ) {}

  static start(options: {
    imds: FakeImds;
    emulator: Emulator;
    bucket: string;
    env?: Record<string, string>;
    /** The worker role's id (`WF_ROLE_ID`); WORKER_ROLE_ID unless given. */
    roleId?: string;
    /** Where S3 is, when not the emulator (a server that never answers, one that records what it receives). */
    s3Endpoint?: string;
  }) {
    const logFile = join(mkdtempSync(join(tmpdir(), 'worker-fleet-agent-')), 'agent.log');
    const child = spawn('sh', [AGENT], {
      env: {
        PATH: process.env.PATH,
        WF_ENV_FILE: '/nonexistent',
        WF_BUCKET: options.bucket,
        WF_REGION: 'us-east-1',
        WF_ROLE_ID: options.roleId ?? WORKER_ROLE_ID,
        WF_IMDS_ENDPOINT: options.imds.endpoint,
        WF_S3_ENDPOINT: options.s3Endpoint ?? `${options.emulator.endpoint}/${options.bucket}`,
        WF_HEARTBEAT_SECONDS: '1',
        WF_POLL_SECONDS: '1',
        WF_LOG_FILE: logFile,
        ...options.env,
      },
      stdio: 'ignore',
      // Its own process group, so that kill() also ends what it left running (a heartbeat, a drain hook).
      detached: true,
    });
    return new AgentProcess(child, logFile);
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Ends the agent and everything it started. */
  kill(): void {
    if (this.process.pid === undefined) return;
    try {
      process.kill(-this.process.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Polls until `check` holds, or fails with what it last saw: the agent works on its own clock. */
export async function eventually<T>(
  read: () => Promise<T> | T,
  check: (value: T) => boolean,
  seconds = 15,
  context: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    value = await read();
  }
  if (!check(value)) throw new Error(`gave up waiting; last saw ${JSON.stringify(value)}\n${context()}`);
  return value;
}
