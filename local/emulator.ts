import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const MOTO_SERVER = join(ROOT, '.venv', 'bin', 'moto_server');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');
/** moto made fit for fleets of thousands (same answers) and served with kept-alive connections: see the script. */
const MOTO_SERVER_LARGE_FLEETS = join(__dirname, 'moto_server_large_fleets.py');

export interface EmulatorOptions {
  /**
   * Start moto through local/moto_server_large_fleets.py, the benchmarks' emulator: EC2 lookups by id instead of
   * scans, response rendering that remembers what does not change, moto's default AMI catalog only, and an HTTP
   * server that keeps connections alive. The same answers, several times faster: DescribeInstances over 10,000
   * instances in about 15 s instead of about eight minutes. Tests use plain moto.
   */
  readonly largeFleets?: boolean;
}

/** One request that reached the emulator through the proxy: its API action and (for query APIs) its parameters. */
export interface CapturedRequest {
  readonly method: string;
  /** Path and query, as sent: how S3's REST calls are told apart. */
  readonly path: string;
  readonly action: string;
  readonly params: URLSearchParams;
  readonly body: string;
  /** When it reached the proxy (performance.now() of this process). */
  readonly at: number;
}

/** An error the proxy answers instead of the emulator, in the EC2/query-API XML shape the SDK parses. */
export interface Fault {
  readonly action: string;
  /** Which requests fail: by query parameters, or by method and path for REST APIs such as S3. */
  readonly when?: (
    params: URLSearchParams,
    request: { method: string; path: string; body: string },
  ) => boolean;
  readonly code: string;
  readonly status?: number;
  /** How many matching requests fail; unlimited when absent. */
  times?: number;
  /**
   * Never answer: the request hangs as a Lambda invocation that times out leaves it (nothing after it runs, no catch,
   * no finally). `code` is unused. Held until the emulator stops.
   */
  readonly freeze?: boolean;
}

/**
 * A moto server of the project's pinned version, on a free 127.0.0.1 port, behind a small proxy that records every
 * request and injects the faults a test asks for (moto cannot produce capacity errors on its own).
 */
export class Emulator {
  readonly requests: CapturedRequest[] = [];
  readonly faults: Fault[] = [];
  /**
   * Instances EC2 reclaimed (a spot interruption), as DescribeInstances tells them: moto says every termination was
   * a person's (`Client.UserInitiatedShutdown`); for these it says `Server.SpotInstanceTermination`.
   */
  readonly reclaimed = new Set<string>();
  private readonly frozen: { request: CapturedRequest; resolve: () => void }[] = [];
  private readonly frozenWaiters: ((request: CapturedRequest) => void)[] = [];
  private log = '';

  private constructor(
    private readonly moto: ChildProcess,
    private readonly proxy: Server,
    /** The emulator itself. */
    readonly motoEndpoint: string,
    /** Where clients go: the proxy in front of the emulator. */
    readonly endpoint: string,
  ) {
    moto.stdout?.on('data', (chunk: Buffer) => {
      this.log += chunk.toString();
    });
    moto.stderr?.on('data', (chunk: Buffer) => {
      this.log += chunk.toString();
    });
  }

  static async start(options: EmulatorOptions = {}): Promise<Emulator> {
    if (!existsSync(MOTO_SERVER)) {
      throw new Error(
        `the emulator is not installed: run "bash scripts/setup-emulator.sh" (looked for ${MOTO_SERVER})`,
      );
    }
    const [command, ...script] = options.largeFleets ? [PYTHON, MOTO_SERVER_LARGE_FLEETS] : [MOTO_SERVER];
    const moto = spawn(command, [...script, '-H', '127.0.0.1', '-p', '0'], {
      env: {
        ...process.env,
        MOTO_ENABLE_AMI_VALIDATION: 'true',
        MOTO_ENABLE_KEYPAIR_VALIDATION: 'true',
        MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION: 'true',
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const motoEndpoint = await new Promise<string>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`the emulator did not start:\n${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      moto.stdout.on('data', onData);
      moto.stderr.on('data', onData);
      moto.once('exit', (code) => reject(new Error(`the emulator exited with ${code}:\n${output}`)));
    });
    let emulator: Emulator | undefined;
    const proxy = createServer((req, res) => {
      if (emulator === undefined) throw new Error('proxy used before the emulator was ready');
      emulator.forward(req, res);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    emulator = new Emulator(moto, proxy, motoEndpoint, `http://127.0.0.1:${port}`);
    return emulator;
  }

  private forward(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString();
      const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const params = new URLSearchParams(isForm ? text : '');
      const target = req.headers['x-amz-target'];
      const action =
        params.get('Action') ?? (typeof target === 'string' ? (target.split('.').pop() ?? '') : '');
      const captured: CapturedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        action,
        params,
        body: isForm || target !== undefined ? text : '',
        at: performance.now(),
      };
      this.requests.push(captured);

      const fault = this.faults.find(
        (candidate) =>
          candidate.action === action &&
          (candidate.times ?? 1) > 0 &&
          (candidate.when?.(params, { method: req.method ?? '', path: req.url ?? '', body: captured.body }) ??
            true),
      );
      if (fault !== undefined) {
        if (fault.times !== undefined) fault.times -= 1;
        if (fault.freeze) {
          this.frozen.push({ request: captured, resolve: () => res.destroy() });
          for (const waiter of this.frozenWaiters.splice(0)) waiter(captured);
          return;
        }
        res.writeHead(fault.status ?? 400, { 'content-type': 'text/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${fault.code}</Code>` +
            `<Message>injected by the test harness</Message></Error></Errors><RequestID>fault</RequestID></Response>`,
        );
        return;
      }
      if (typeof target === 'string' && target.startsWith('DynamoDB_') && DYNAMODB_WRITES.has(action)) {
        // DynamoDB decides each write, condition and transaction atomically; moto checks, then writes, and two racing
        // writers can both win. The proxy lets one DynamoDB write reach moto at a time.
        const done = this.dynamoWrites.then(
          () => new Promise<void>((resolve) => this.forwardUpstream(req, res, action, body, resolve)),
        );
        this.dynamoWrites = done;
        return;
      }
      const conditional =
        req.method === 'PUT' &&
        (req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined);
      if (!conditional) {
        this.forwardUpstream(req, res, action, body, () => undefined);
        return;
      }
      // S3 decides a conditional write atomically; moto checks, then writes, and two racing writers can both win.
      // The proxy lets one conditional write per key reach moto at a time, as S3 would decide them.
      const key = (req.url ?? '').split('?')[0] ?? '';
      const previous = this.conditionalWrites.get(key) ?? Promise.resolve();
      const done = previous.then(
        () => new Promise<void>((resolve) => this.forwardUpstream(req, res, action, body, resolve)),
      );
      this.conditionalWrites.set(key, done);
      void done.then(() => {
        if (this.conditionalWrites.get(key) === done) this.conditionalWrites.delete(key);
      });
    });
  }

  /** DynamoDB writes in flight: each waits for the one before it. */
  private dynamoWrites: Promise<void> = Promise.resolve();

  /** Conditional writes in flight, by key: each waits for the one before it. */
  private readonly conditionalWrites = new Map<string, Promise<void>>();

  /** Sends a request on to moto and its answer back (rewritten where the harness says so); `finished` once sent. */
  private forwardUpstream(
    req: IncomingMessage,
    res: import('node:http').ServerResponse,
    action: string,
    body: Buffer,
    finished: () => void,
  ): void {
    let sent = false;
    const once = () => {
      if (!sent) finished();
      sent = true;
    };
    res.once('finish', once);
    res.once('close', once);
    const upstream = httpRequest(
      `${this.motoEndpoint}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers },
      (reply) => {
        if (action === 'RunInstances' && (reply.statusCode ?? 500) < 300 && profileOf(body) !== undefined) {
          const parts: Buffer[] = [];
          reply.on('data', (part: Buffer) => parts.push(part));
          reply.on('end', () => {
            const answer = Buffer.concat(parts);
            void this.associateProfileWithTheRest(req, body, answer.toString()).then(() => {
              res.writeHead(reply.statusCode ?? 502, reply.headers);
              res.end(answer);
            });
          });
          return;
        }
        if (action !== 'DescribeInstances' || this.reclaimed.size === 0) {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        reply.on('data', (part: Buffer) => parts.push(part));
        reply.on('end', () => {
          const answer = this.withReclaimed(Buffer.concat(parts).toString());
          res.writeHead(reply.statusCode ?? 502, {
            ...reply.headers,
            'content-length': String(Buffer.byteLength(answer)),
          });
          res.end(answer);
        });
      },
    );
    upstream.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    upstream.end(body);
  }

  /**
   * moto associates a RunInstances request's instance profile with the first instance it launches only; EC2 gives it
   * to every one. The proxy associates it with the others (AssociateIamInstanceProfile, as the same caller) before the
   * launch is answered, so the ownership check (the worker instance profile) sees what EC2 would show.
   */
  private async associateProfileWithTheRest(req: IncomingMessage, request: Buffer, answer: string) {
    const profile = profileOf(request);
    const launched = [
      ...new Set([...answer.matchAll(/<instanceId>(i-[0-9a-f]+)<\/instanceId>/g)].map((m) => m[1])),
    ];
    for (const instanceId of launched.slice(1)) {
      const form = new URLSearchParams({
        Action: 'AssociateIamInstanceProfile',
        Version: '2016-11-15',
        InstanceId: instanceId ?? '',
        ...profile,
      }).toString();
      await new Promise<void>((resolve, reject) => {
        const association = httpRequest(
          `${this.motoEndpoint}/`,
          {
            method: 'POST',
            headers: {
              authorization: req.headers.authorization ?? '',
              'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
              'content-length': String(Buffer.byteLength(form)),
            },
          },
          (reply) => {
            reply.resume();
            reply.on('end', () => resolve());
          },
        );
        association.on('error', reject);
        association.end(form);
      });
    }
  }

  /**
   * A DescribeInstances answer where each reclaimed instance's state reason is EC2's own, not a person's. moto renders
   * an instance's `stateReason` before its `instanceId`: the instance's is the last one before its id.
   */
  private withReclaimed(xml: string): string {
    let answer = xml;
    for (const instanceId of this.reclaimed) {
      const id = answer.indexOf(`<instanceId>${instanceId}</instanceId>`);
      const reason = id < 0 ? -1 : answer.lastIndexOf('<stateReason>', id);
      if (reason < 0 || reason < answer.lastIndexOf('<instanceId>', id - 1)) continue;
      const end = answer.indexOf('</stateReason>', reason);
      answer =
        answer.slice(0, reason) +
        '<stateReason><code>Server.SpotInstanceTermination</code>' +
        '<message>Server.SpotInstanceTermination: Spot instance termination</message>' +
        answer.slice(end);
    }
    return answer;
  }

  /** Resolves with the next request the proxy freezes (see Fault.freeze), or one it already froze. */
  async nextFrozen(): Promise<CapturedRequest> {
    const waiting = this.frozen.find((entry) => !this.seenFrozen.has(entry.request));
    if (waiting !== undefined) {
      this.seenFrozen.add(waiting.request);
      return waiting.request;
    }
    return new Promise((resolve) =>
      this.frozenWaiters.push((request) => {
        this.seenFrozen.add(request);
        resolve(request);
      }),
    );
  }

  private readonly seenFrozen = new Set<CapturedRequest>();

  /** Requests of one API action that reached the proxy since the last reset. */
  sent(action: string): CapturedRequest[] {
    return this.requests.filter((request) => request.action === action);
  }

  /** Empties the emulator (POST /moto-api/reset) and forgets captured requests and faults. */
  async reset(): Promise<void> {
    const response = await fetch(`${this.motoEndpoint}/moto-api/reset`, { method: 'POST' });
    if (!response.ok) throw new Error(`emulator reset failed: ${response.status}`);
    this.requests.length = 0;
    this.faults.length = 0;
    this.reclaimed.clear();
  }

  /** Fails when the emulator met a call it does not implement: such a test proves nothing. */
  assertNoUnimplementedCalls(): void {
    if (this.log.includes('NotImplementedError')) {
      throw new Error(`the emulator met an unimplemented call:\n${this.log.slice(-4000)}`);
    }
  }

  /** Closes the proxy (and the clients' kept-alive connections) and waits until the emulator has exited. */
  async stop(): Promise<void> {
    for (const { resolve } of this.frozen.splice(0)) resolve();
    const closed = new Promise<void>((resolve) => this.proxy.close(() => resolve()));
    this.proxy.closeAllConnections();
    await closed;
    if (this.moto.exitCode !== null || this.moto.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.moto.once('exit', () => resolve()));
    this.moto.kill('SIGTERM');
    const stubborn = setTimeout(() => this.moto.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(stubborn);
  }
}

/** DynamoDB's actions that write: the proxy serialises them, as DynamoDB's own atomicity would order them. */
const DYNAMODB_WRITES: ReadonlySet<string> = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'TransactWriteItems',
  'BatchWriteItem',
]);

/** The instance profile a RunInstances request (a query-API form) asks for, as its form fields; undefined for none. */
function profileOf(request: Buffer): Record<string, string> | undefined {
  const params = new URLSearchParams(request.toString());
  for (const field of ['IamInstanceProfile.Name', 'IamInstanceProfile.Arn']) {
    const value = params.get(field);
    if (value !== null && value !== '') return { [field]: value };
  }
  return undefined;
}

/** SDK client settings for the emulator: its endpoint, dummy credentials, and `maxAttempts` as the caller needs. */
export function emulatorClientConfig(emulator: Emulator, maxAttempts = 3) {
  return {
    endpoint: emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts,
  };
}
