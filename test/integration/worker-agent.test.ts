import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AgentProcess, eventually as waitFor } from './agent-process';
import { FakeImds } from './fake-imds';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();
const BUCKET = 'worker-fleet-agent-test';
const INSTANCE_ID = 'i-0a1b2c3d4e5f60718';

let imds: FakeImds;
let s3: S3Client;
let dir: string;
let running: AgentProcess | undefined;

beforeEach(async () => {
  imds = await FakeImds.start(INSTANCE_ID);
  s3 = new S3Client({ ...clientConfig(emulator()), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  dir = mkdtempSync(join(tmpdir(), 'worker-fleet-agent-'));
});

afterEach(async () => {
  running?.kill();
  running = undefined;
  await imds.stop();
});

/** Starts the agent as a worker's user data would, with the test's metadata service and the emulator's S3. */
function startAgent(env: Record<string, string> = {}): ChildProcess {
  running = AgentProcess.start({ imds, emulator: emulator(), bucket: BUCKET, env });
  return running.process;
}

const log = () => running?.log() ?? '';

async function object(key: string): Promise<string | undefined> {
  try {
    const output = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return await output.Body?.transformToString();
  } catch {
    return undefined;
  }
}

const eventually = <T>(read: () => Promise<T> | T, check: (value: T) => boolean, seconds = 15) =>
  waitFor(read, check, seconds, () => `agent log:\n${log()}`);

describe('the worker agent', () => {
  it('writes heartbeats with the status the workload reports, signed with the instance profile', async () => {
    const busyFile = join(dir, 'status');
    writeFileSync(busyFile, 'busy\n');
    startAgent({ WF_BUSY_FILE: busyFile });

    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'busy',
    );
    writeFileSync(busyFile, 'idle\n');
    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'idle',
    );

    const put = emulator().requests.find(
      ({ method, path }) => method === 'PUT' && path.includes('/heartbeats/'),
    );
    expect(put).toBeDefined();
    expect(imds.refusedWithoutToken).toBe(0);
    expect(imds.tokensIssued).toBe(1);
  });

  it('asks a workload command whether it is busy', async () => {
    startAgent({ WF_BUSY_COMMAND: 'false' });

    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'idle',
    );
  });

  it('says alive when the fleet names no busy signal', async () => {
    startAgent();

    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'alive',
    );
  });

  it('runs the drain hook exactly once on a spot notice, reports it, and says draining', async () => {
    const drained = join(dir, 'drained');
    startAgent({ WF_DRAIN_COMMAND: `echo drained >> ${drained}` });
    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'alive',
    );

    imds.spotNotice = JSON.stringify({ action: 'terminate', time: '2026-11-25T09:12:00Z' });

    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'draining',
    );
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(readFileSync(drained, 'utf8')).toBe('drained\n');
    expect(await object(`notices/${INSTANCE_ID}/spot`)).toBe(imds.spotNotice);
  });

  it('stops a drain hook at its time limit', async () => {
    startAgent({ WF_DRAIN_COMMAND: 'sleep 60', WF_DRAIN_TIMEOUT_SECONDS: '2' });
    imds.spotNotice = JSON.stringify({ action: 'terminate', time: '2026-11-25T09:12:00Z' });

    await eventually(log, (text) => text.includes('drain hook started'));
    const started = Date.now();
    await eventually(log, (text) => text.includes('drain hook finished with exit code 124'), 10);

    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports a rebalance recommendation once', async () => {
    startAgent();
    imds.rebalanceNotice = JSON.stringify({ noticeTime: '2026-11-25T09:08:00Z' });

    await eventually(
      () => object(`notices/${INSTANCE_ID}/rebalance`),
      (body) => body === imds.rebalanceNotice,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(log().match(/rebalance recommendation/g)).toHaveLength(1);
  });

  it('uses IMDSv2 only, and renews a token the metadata service no longer accepts', async () => {
    startAgent();
    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'alive',
    );

    imds.revokeTokens();
    imds.spotNotice = JSON.stringify({ action: 'stop', time: '2026-11-25T09:12:00Z' });

    await eventually(
      () => object(`notices/${INSTANCE_ID}/spot`),
      (body) => body === imds.spotNotice,
    );
    expect(imds.refusedWithoutToken).toBeGreaterThan(0);
    expect(log()).not.toContain('instance metadata unavailable');
  });

  it('retries S3 errors and keeps going', async () => {
    emulator().faults.push({
      action: '',
      when: (_params, { method, path }) => method === 'PUT' && path.includes('/heartbeats/'),
      code: 'InternalError',
      status: 500,
      times: 2,
    });

    startAgent();

    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'alive',
    );
    expect(log()).toContain('failed (HTTP 500), attempt 1');
    expect(log()).toContain('failed (HTTP 500), attempt 2');
  });

  it('stops cleanly on SIGTERM', async () => {
    const process = startAgent({ WF_POLL_SECONDS: '30', WF_HEARTBEAT_SECONDS: '30' });
    await eventually(
      () => object(`heartbeats/${INSTANCE_ID}`),
      (body) => body === 'alive',
    );

    const exited = new Promise<number | null>((resolve) => process.once('exit', (code) => resolve(code)));
    process.kill('SIGTERM');

    const started = Date.now();
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(log()).toContain('stopping on SIGTERM');
  });
});
