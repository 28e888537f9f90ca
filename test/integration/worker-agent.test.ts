import { type ChildProcess, execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AgentProcess, WORKER_ROLE_ID, eventually as waitFor } from './agent-process';
import { FakeImds, WORKER_CREDENTIALS } from './fake-imds';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();
const BUCKET = 'worker-fleet-agent-test';
const INSTANCE_ID = 'i-0a1b2c3d4e5f60718';
/** What IAM sees as the worker's `${aws:userid}`, and so the name of its keys. */
const WORKER_ID = `${WORKER_ROLE_ID}:${INSTANCE_ID}`;

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
function startAgent(env: Record<string, string> = {}, s3Endpoint?: string): ChildProcess {
  running = AgentProcess.start({ imds, emulator: emulator(), bucket: BUCKET, env, s3Endpoint });
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

/**
 * A directory holding a `curl` that runs `lines` first, then the real curl: put first on the agent's PATH.
 */
function fakeCurl(lines: string[]): string {
  const bin = mkdtempSync(join(tmpdir(), 'worker-fleet-curl-'));
  const realCurl = execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim();
  writeFileSync(join(bin, 'curl'), ['#!/bin/sh', ...lines, `exec ${realCurl} "$@"`, ''].join('\n'));
  chmodSync(join(bin, 'curl'), 0o755);
  return bin;
}

/** A TCP server that accepts connections and never answers: an S3 that does not respond. */
async function silentServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/${BUCKET}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** An S3 that records what it receives and answers 200: to see the request exactly as curl signed it. */
async function recordingServer(): Promise<{
  endpoint: string;
  received: ReceivedRequest[];
  close: () => Promise<void>;
}> {
  const received: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/${BUCKET}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const encodeSegment = (segment: string) =>
  encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The signature S3 expects for a request, computed as S3 does (SigV4 for S3): the canonical URI is the object's key
 * URI-encoded once, segment by segment, from the key S3 decodes out of the path it received. The emulator does not
 * check signatures; this does.
 */
function signatureS3Expects(request: ReceivedRequest, secret: string): string {
  const authorization = String(request.headers.authorization);
  const credential = /Credential=[^/]+\/(\d{8})\/([^/]+)\/s3\/aws4_request/.exec(authorization);
  const signed = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const [date, region] = [credential?.[1] ?? '', credential?.[2] ?? ''];
  const [path = '', query = ''] = request.url.split('?');
  const canonicalUri = path
    .split('/')
    .map((segment) => encodeSegment(decodeURIComponent(segment)))
    .join('/');
  const canonicalRequest = [
    request.method,
    canonicalUri,
    query,
    ...signed.map((name) => `${name}:${String(request.headers[name]).trim()}`),
    '',
    signed.join(';'),
    String(request.headers['x-amz-content-sha256']),
  ].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    String(request.headers['x-amz-date']),
    `${date}/${region}/s3/aws4_request`,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
  return hmac(key, stringToSign).toString('hex');
}

describe('the worker agent', () => {
  it('writes heartbeats to the key of its own principal, with the status the workload reports', async () => {
    const busyFile = join(dir, 'status');
    writeFileSync(busyFile, 'busy\n');
    startAgent({ WF_BUSY_FILE: busyFile });

    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'busy',
    );
    writeFileSync(busyFile, 'idle\n');
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'idle',
    );

    const puts = emulator().requests.filter(
      ({ method, path }) => method === 'PUT' && path.includes('/heartbeats/'),
    );
    expect(puts.length).toBeGreaterThan(0);
    expect(puts.map(({ path }) => path)).toEqual(
      puts.map(() => `/${BUCKET}/heartbeats/${WORKER_ROLE_ID}%3A${INSTANCE_ID}`),
    );
    expect(imds.refusedWithoutToken).toBe(0);
    expect(imds.tokensIssued).toBe(1);
  });

  it("takes the busy file's first word, busy or idle in any case, and says alive for anything else", async () => {
    const busyFile = join(dir, 'status');
    writeFileSync(busyFile, 'idle\n');
    startAgent({ WF_BUSY_FILE: busyFile });
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'idle',
    );

    // Each row's status differs from the one before it, so each is seen only once the agent has read its file.
    const rows: [content: string | undefined, status: string][] = [
      ['busy since 10:00\n', 'busy'],
      ['done\n', 'alive'],
      ['IDLE', 'idle'],
      ['', 'alive'],
      ['  Busy\tjob 42\n', 'busy'],
      [undefined, 'alive'],
      ['\n\n  idle  \n', 'idle'],
      ['busyness\n', 'alive'],
      ['idle\n', 'idle'],
      ['busy,now\n', 'alive'],
    ];
    for (const [content, status] of rows) {
      if (content === undefined) rmSync(busyFile);
      else writeFileSync(busyFile, content);
      await eventually(
        () => object(`heartbeats/${WORKER_ID}`),
        (body) => body === status,
      ).catch((error: Error) => {
        throw new Error(`busy file ${JSON.stringify(content)}: ${error.message}`);
      });
    }
  });

  it('asks a workload command: exit 0 busy, 1 idle, anything else alive', async () => {
    const exitCode = join(dir, 'exit-code');
    writeFileSync(exitCode, '1');
    startAgent({ WF_BUSY_COMMAND: `exit $(cat ${exitCode})` });
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'idle',
    );

    for (const [code, status] of [
      ['0', 'busy'],
      ['2', 'alive'],
      ['1', 'idle'],
      ['127', 'alive'],
    ] as const) {
      writeFileSync(exitCode, code);
      await eventually(
        () => object(`heartbeats/${WORKER_ID}`),
        (body) => body === status,
      );
    }
  });

  it('says alive when the busy command runs past its time limit, and keeps polling meanwhile', async () => {
    // With heartbeats every 5 s the busy command has 5 s: a notice that comes while it hangs is reported first.
    startAgent({ WF_BUSY_COMMAND: 'sleep 600', WF_HEARTBEAT_SECONDS: '5' });
    await eventually(log, (text) => text.includes('started on'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    imds.rebalanceNotice = JSON.stringify({ noticeTime: '2026-11-25T09:08:00Z' });

    await eventually(
      () => object(`notices/${WORKER_ID}/rebalance`),
      (body) => body === imds.rebalanceNotice,
      3,
    );
    expect(await object(`heartbeats/${WORKER_ID}`)).toBeUndefined();
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );
  });

  it('says alive when the fleet names no busy signal', async () => {
    startAgent();

    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );
  });

  it('runs the drain hook exactly once on a spot notice, reports it, says draining, then drained once it ends', async () => {
    const drained = join(dir, 'drained');
    startAgent({ WF_DRAIN_COMMAND: `sleep 2; echo drained >> ${drained}` });
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );

    imds.spotNotice = JSON.stringify({ action: 'terminate', time: '2026-11-25T09:12:00Z' });

    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'draining',
    );
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'drained',
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(readFileSync(drained, 'utf8')).toBe('drained\n');
    expect(await object(`notices/${WORKER_ID}/spot`)).toBe(imds.spotNotice);
  });

  it('reads a planned drain request from its instance tags, runs the drain hook once within the planned limit, then says drained', async () => {
    const drained = join(dir, 'drained');
    startAgent({
      WF_DRAIN_COMMAND: `sleep 2; echo drained >> ${drained}`,
      WF_DRAIN_TIMEOUT_SECONDS: '1',
      WF_PLANNED_DRAIN_TIMEOUT_SECONDS: '30',
    });
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );

    imds.tags = { 'worker-fleet:drain-requested-at': '2026-12-05T12:00:00.000Z', team: 'batch' };

    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'draining',
    );
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'drained',
    );
    // A spot notice after the planned drain runs no second hook, and is still reported.
    imds.spotNotice = JSON.stringify({ action: 'terminate', time: '2026-12-05T12:02:00Z' });
    await eventually(
      () => object(`notices/${WORKER_ID}/spot`),
      (body) => body === imds.spotNotice,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(readFileSync(drained, 'utf8')).toBe('drained\n');
    expect(log()).toContain('drain hook started (limit 30s)');
    expect(log()).toContain('drain requested at 2026-12-05T12:00:00.000Z');
    expect(imds.refusedWithoutToken).toBe(0);
  });

  it('says drained at once on a planned drain when the fleet names no drain hook', async () => {
    startAgent();
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );

    imds.tags = { 'worker-fleet:drain-requested-at': '2026-12-05T12:00:00.000Z' };

    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'drained',
      5,
    );
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
      () => object(`notices/${WORKER_ID}/rebalance`),
      (body) => body === imds.rebalanceNotice,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(log().match(/rebalance recommendation/g)).toHaveLength(1);
  });

  it('uses IMDSv2 only, and renews a token the metadata service no longer accepts', async () => {
    startAgent();
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );

    imds.revokeTokens();
    imds.spotNotice = JSON.stringify({ action: 'stop', time: '2026-11-25T09:12:00Z' });

    await eventually(
      () => object(`notices/${WORKER_ID}/spot`),
      (body) => body === imds.spotNotice,
    );
    expect(imds.refusedWithoutToken).toBeGreaterThan(0);
    expect(log()).not.toContain('instance metadata unavailable');
  });

  it('retries an S3 error once and keeps going', async () => {
    emulator().faults.push({
      action: '',
      when: (_params, { method, path }) => method === 'PUT' && path.includes('/heartbeats/'),
      code: 'InternalError',
      status: 500,
      times: 2,
    });

    startAgent();

    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );
    expect(log()).toContain('failed (HTTP 500), attempt 1');
    expect(log()).toContain('failed (HTTP 500), attempt 2');
    expect(log()).not.toContain('attempt 3');
  });

  it('stops cleanly on SIGTERM', async () => {
    const process = startAgent({ WF_POLL_SECONDS: '30', WF_HEARTBEAT_SECONDS: '30' });
    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
    );

    const exited = new Promise<number | null>((resolve) => process.once('exit', (code) => resolve(code)));
    process.kill('SIGTERM');

    const started = Date.now();
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(log()).toContain('stopping on SIGTERM');
  });

  it('signs the %3A of its key as S3 computes the canonical request', async () => {
    const s3Server = await recordingServer();
    try {
      startAgent({}, s3Server.endpoint);
      const [put] = await eventually(
        () => s3Server.received.filter(({ url }) => url.includes('/heartbeats/')),
        (puts) => puts.length > 0,
      );

      expect(put?.url).toBe(`/${BUCKET}/heartbeats/${WORKER_ROLE_ID}%3A${INSTANCE_ID}`);
      const sent = /Signature=([0-9a-f]{64})/.exec(String(put?.headers.authorization))?.[1];
      expect(put && signatureS3Expects(put, WORKER_CREDENTIALS.secretAccessKey)).toBe(sent);
      expect(put?.headers['x-amz-security-token']).toBe(WORKER_CREDENTIALS.sessionToken);
    } finally {
      await s3Server.close();
    }
  });

  it('starts the drain hook within one poll of a spot notice while S3 never answers, then reports it twice at most', async () => {
    const s3Server = await silentServer();
    try {
      const started = join(dir, 'drain-started');
      startAgent({ WF_DRAIN_COMMAND: `touch ${started}` }, s3Server.endpoint);
      // A heartbeat is already stuck on S3 when the notice comes.
      await eventually(log, (text) => text.includes('started on'));
      await new Promise((resolve) => setTimeout(resolve, 1500));

      imds.spotNotice = JSON.stringify({ action: 'terminate', time: '2026-11-25T09:12:00Z' });
      const noticed = Date.now();
      await eventually(
        () => existsSync(started),
        (exists) => exists,
        5,
      );

      // One polling interval (1 s), and a second for starting processes on a busy machine.
      expect(Date.now() - noticed).toBeLessThan(2000);
      const spotKey = `notices/${WORKER_ID}/spot`;
      await eventually(log, (text) => text.includes(`put ${spotKey} failed (HTTP 000), attempt 2`), 20);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(log()).not.toContain(`put ${spotKey} failed (HTTP 000), attempt 3`);
    } finally {
      await s3Server.close();
    }
  });

  it('waits out a metadata service that takes 2.5 s per answer at boot, and starts', async () => {
    imds.delayMs = 2500;
    startAgent();

    await eventually(
      () => object(`heartbeats/${WORKER_ID}`),
      (body) => body === 'alive',
      45,
    );
    expect(log()).toContain('instance metadata unavailable, retrying');
    expect(log()).toContain(`started on ${INSTANCE_ID}`);
  });

  it('never puts the secret key or the session token on a command line', async () => {
    // Every curl's arguments are recorded before it starts: curl blanks a --user password in its own argv once
    // it has read it, so sampling ps alone could miss one.
    const bin = fakeCurl([`printf '%s\\n' "$*" >> "$(dirname "$0")/argv"`]);
    // S3 never answers, so each signed curl stays on the process list for its whole time limit.
    const s3Server = await silentServer();
    try {
      startAgent({ PATH: `${bin}:${process.env.PATH ?? ''}` }, s3Server.endpoint);
      const seen: string[] = [];
      const deadline = Date.now() + 4000;
      while (Date.now() < deadline) {
        seen.push(...execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n'));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const argv = readFileSync(join(bin, 'argv'), 'utf8').split('\n');

      expect(seen.some((args) => args.includes('--aws-sigv4') && args.includes(s3Server.endpoint))).toBe(
        true,
      );
      expect(argv.some((args) => args.includes('--aws-sigv4') && args.includes(s3Server.endpoint))).toBe(
        true,
      );
      for (const secret of [WORKER_CREDENTIALS.secretAccessKey, WORKER_CREDENTIALS.sessionToken]) {
        expect(seen.filter((args) => args.includes(secret))).toEqual([]);
        expect(argv.filter((args) => args.includes(secret))).toEqual([]);
      }
    } finally {
      await s3Server.close();
    }
  });

  it('stops with a clear message when curl cannot sign requests (older than 7.75)', async () => {
    const bin = fakeCurl([
      'for arg; do',
      '  case "$arg" in',
      `    --aws-sigv4) echo 'curl: option --aws-sigv4: is unknown' >&2; exit 2 ;;`,
      `    --version) echo 'curl 7.74.0 (x86_64-pc-linux-gnu) libcurl/7.74.0'; exit 0 ;;`,
      '  esac',
      'done',
    ]);

    const process = startAgent({ PATH: `${bin}:${globalThis.process.env.PATH ?? ''}` });
    const code = await new Promise<number | null>((resolve) => process.once('exit', (exit) => resolve(exit)));

    expect(code).toBe(78);
    expect(log()).toContain(
      'curl cannot sign requests: --aws-sigv4 needs curl 7.75 or later, found curl 7.74.0 (x86_64-pc-linux-gnu)',
    );
    expect(imds.tokensIssued).toBe(0);
  });

  it('stops when WF_ROLE_ID is not an IAM role id, before asking for anything', async () => {
    const process = startAgent({ WF_ROLE_ID: 'AROAX:i-0fffffffffffffff0' });
    const code = await new Promise<number | null>((resolve) => process.once('exit', (exit) => resolve(exit)));

    expect(code).toBe(78);
    expect(log()).toContain('WF_ROLE_ID is not an IAM role id: AROAX:i-0fffffffffffffff0; stopping');
    expect(imds.tokensIssued).toBe(0);
  });
});
