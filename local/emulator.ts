import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  describedInstances,
  ec2ErrorXml,
  launchedInstances,
  type ScheduledEventXml,
  withInstancesSet,
  withoutInstances,
  withScheduledEvents,
} from './ec2-xml';

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
  /** The access key its signature names: whose request it was (an operator's, a function's). */
  readonly accessKeyId: string;
}

/**
 * A function's handler as the proxy runs it for `Invoke`: the event is the invocation's payload, parsed; what it
 * resolves to is the function's result, and what it throws is the function's error.
 */
export type LambdaHandler = (
  event: unknown,
  invocation: { readonly functionName: string; readonly requestId: string },
) => Promise<unknown>;

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
  /**
   * Scheduled events (a retirement, a reboot, maintenance) by instance, as DescribeInstanceStatus lists them: moto
   * lists none. Emptied by each reset.
   */
  readonly scheduledEvents = new Map<string, ScheduledEventXml[]>();
  /**
   * EC2's eventual consistency, as a fault: for this long after RunInstances answered, DescribeInstances does not list
   * the instances it launched, whether asked by filter or by id. 0 (the default, and after each reset): listed at
   * once, as moto lists them.
   */
  listingLagMs = 0;
  /**
   * The functions `Invoke` runs, by function name (moto cannot run a Lambda). Unset (the default, and after each
   * reset): Invoke goes to moto as any other call. Set: Invoke (RequestResponse) runs the named function's handler in
   * this process and answers as Lambda does (a thrown error is a function error, `X-Amz-Function-Error: Unhandled`);
   * a name without a handler is answered `ResourceNotFoundException`.
   */
  lambdaHandlers: Map<string, LambdaHandler> | undefined;
  /** The first answer to each ClientToken's RunInstances, kept for the emulator's life (reset forgets them). */
  private readonly launches = new Map<string, TokenLaunch>();
  /** When RunInstances answered for each instance launched through the proxy (performance.now()). */
  private readonly launchedAt = new Map<string, number>();
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

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString();
      const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const params = new URLSearchParams(isForm ? text : '');
      const target = req.headers['x-amz-target'];
      const invoked = req.method === 'POST' ? INVOKE_PATH.exec(req.url ?? '') : null;
      const action =
        params.get('Action') ??
        (typeof target === 'string' ? (target.split('.').pop() ?? '') : invoked === null ? '' : 'Invoke');
      const captured: CapturedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        action,
        params,
        body: isForm || target !== undefined || invoked !== null ? text : '',
        at: performance.now(),
        accessKeyId: /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '',
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
        answerError(res, fault.status ?? 400, fault.code, 'injected by the test harness');
        return;
      }
      if (invoked !== null && this.lambdaHandlers !== undefined) {
        answerWith(res, this.invoke(res, decodeURIComponent(invoked[1] ?? ''), req.headers, text));
        return;
      }
      if (action === 'RunInstances' && isForm) {
        answerWith(res, this.runInstances(req, res, params, body));
        return;
      }
      if (action === 'DescribeInstances' && (this.listingLagMs > 0 || this.reclaimed.size > 0)) {
        answerWith(res, this.describeInstances(req, res, params, body));
        return;
      }
      if (action === 'DescribeInstanceStatus' && this.scheduledEvents.size > 0) {
        answerWith(
          res,
          this.send(req, body).then((reply) =>
            sendReply(
              res,
              reply.status < 300
                ? { ...reply, body: withScheduledEvents(reply.body, this.scheduledEvents) }
                : reply,
            ),
          ),
        );
        return;
      }
      if (typeof target === 'string' && target.startsWith('DynamoDB_') && DYNAMODB_WRITES.has(action)) {
        // DynamoDB decides each write, condition and transaction atomically; moto checks, then writes, and two racing
        // writers of one item can both win. The proxy lets one write per item reach moto at a time; writes of other
        // items go on side by side, as DynamoDB's do. A transaction runs alone: moto copies every table to roll one
        // back, and a write beside the copy fails it with a 500.
        const transaction = action === 'TransactWriteItems';
        const keys = dynamoItemKeys(text);
        const before = Promise.all([
          this.dynamoTransaction,
          ...(transaction ? [...this.dynamoWrites.values()] : keys.map((key) => this.dynamoWrites.get(key))),
        ]);
        const done = before.then(
          () => new Promise<void>((resolve) => this.pipeUpstream(req, res, body, resolve)),
        );
        if (transaction) this.dynamoTransaction = done;
        for (const key of keys) this.dynamoWrites.set(key, done);
        void done.then(() => {
          for (const key of keys) if (this.dynamoWrites.get(key) === done) this.dynamoWrites.delete(key);
        });
        return;
      }
      const conditional =
        req.method === 'PUT' &&
        (req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined);
      if (!conditional) {
        this.pipeUpstream(req, res, body, () => undefined);
        return;
      }
      // S3 decides a conditional write atomically; moto checks, then writes, and two racing writers can both win.
      // The proxy lets one conditional write per key reach moto at a time, as S3 would decide them.
      const key = (req.url ?? '').split('?')[0] ?? '';
      const previous = this.conditionalWrites.get(key) ?? Promise.resolve();
      const done = previous.then(
        () => new Promise<void>((resolve) => this.pipeUpstream(req, res, body, resolve)),
      );
      this.conditionalWrites.set(key, done);
      void done.then(() => {
        if (this.conditionalWrites.get(key) === done) this.conditionalWrites.delete(key);
      });
    });
  }

  /** DynamoDB writes in flight, by item: each waits for the one before it on the same item. */
  private readonly dynamoWrites = new Map<string, Promise<void>>();
  /** The last transaction: every later write waits for it, and it waited for every write before it. */
  private dynamoTransaction: Promise<void> = Promise.resolve();

  /** Conditional writes in flight, by key: each waits for the one before it. */
  private readonly conditionalWrites = new Map<string, Promise<void>>();

  /**
   * The proxy's connections to moto, at most MOTO_CONNECTIONS at once; the rest wait here. moto's server takes a
   * thread per connection and a short listen queue: a wave of deliveries opening hundreds at once had some reset.
   */
  private readonly toMoto = new Agent({ maxSockets: MOTO_CONNECTIONS });

  /** Sends a request on to moto and its answer back as it comes; `finished` once sent. */
  private pipeUpstream(req: IncomingMessage, res: ServerResponse, body: Buffer, finished: () => void): void {
    let sent = false;
    const once = () => {
      if (!sent) finished();
      sent = true;
    };
    res.once('finish', once);
    res.once('close', once);
    const upstream = httpRequest(
      `${this.motoEndpoint}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers, agent: this.toMoto },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) sendReply(res, unreachable(req.headers, error));
      else res.destroy(error);
    });
    upstream.end(body);
  }

  /** Sends a request to moto and reads its whole answer; a connection error is answered 502. */
  private upstream(path: string, method: string, headers: OutgoingHttpHeaders, body: Buffer | string) {
    return new Promise<Reply>((resolve) => {
      const upstream = httpRequest(
        `${this.motoEndpoint}${path}`,
        { method, headers, agent: this.toMoto },
        (reply) => {
          const parts: Buffer[] = [];
          reply.on('data', (part: Buffer) => parts.push(part));
          reply.on('end', () =>
            resolve({
              status: reply.statusCode ?? 502,
              headers: reply.headers,
              body: Buffer.concat(parts).toString(),
            }),
          );
        },
      );
      upstream.on('error', (error) => resolve(unreachable(headers, error)));
      upstream.end(body);
    });
  }

  /** The client's request, sent on to moto as it came. */
  private send(req: IncomingMessage, body: Buffer): Promise<Reply> {
    return this.upstream(req.url ?? '/', req.method ?? 'POST', req.headers, body);
  }

  /** An EC2 action the proxy asks of moto itself, with the credentials of the client request it serves. */
  private ask(req: IncomingMessage, action: string, fields: Record<string, string>): Promise<Reply> {
    const form = new URLSearchParams({ Action: action, Version: EC2_VERSION, ...fields }).toString();
    return this.upstream(
      '/',
      'POST',
      {
        authorization: req.headers.authorization ?? '',
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'content-length': String(Buffer.byteLength(form)),
      },
      form,
    );
  }

  /**
   * RunInstances as EC2 keeps ClientTokens, which moto ignores: a token seen before, with the same parameters, is
   * answered with the first launch's instances as they are now, and nothing is launched; with other parameters,
   * `IdempotentParameterMismatch`. A request whose token is still being launched waits for that answer. A launch that
   * failed leaves its token unused, as EC2 only keeps the tokens of requests that succeeded.
   */
  private async runInstances(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
    body: Buffer,
  ): Promise<void> {
    // The SDK always sends one: ClientToken is an idempotency token, a UUID when the caller gives none.
    const token = params.get('ClientToken');
    if (token === null) {
      sendReply(res, await this.launch(req, body));
      return;
    }
    const parameters = launchParameters(params);
    const earlier = this.launches.get(token);
    if (earlier !== undefined) {
      if (earlier.parameters !== parameters) {
        answerError(
          res,
          400,
          'IdempotentParameterMismatch',
          'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).',
        );
        return;
      }
      const first = await earlier.answer;
      if (first === undefined) return this.runInstances(req, res, params, body);
      sendReply(res, await this.repeatLaunch(req, first));
      return;
    }
    let settle: (answer: string | undefined) => void = () => undefined;
    const launch: TokenLaunch = { parameters, answer: new Promise((resolve) => (settle = resolve)) };
    this.launches.set(token, launch);
    let reply: Reply | undefined;
    try {
      reply = await this.launch(req, body);
    } finally {
      const launched = reply !== undefined && reply.status < 300;
      if (!launched && this.launches.get(token) === launch) this.launches.delete(token);
      settle(launched ? reply?.body : undefined);
    }
    sendReply(res, reply);
  }

  /**
   * Launches through moto and notes when each instance was launched (see listingLagMs). moto associates the
   * request's instance profile with the first instance it launches only; EC2 gives it to every one. The proxy
   * associates it with the others (AssociateIamInstanceProfile, as the same caller) before the launch is answered,
   * so the ownership check (the worker instance profile) sees what EC2 would show.
   */
  private async launch(req: IncomingMessage, body: Buffer): Promise<Reply> {
    const reply = await this.send(req, body);
    if (reply.status >= 300) return reply;
    const instanceIds = launchedInstances(reply.body).map((instance) => instance.instanceId);
    const at = performance.now();
    for (const instanceId of instanceIds) this.launchedAt.set(instanceId, at);
    const profile = profileOf(body);
    if (profile === undefined) return reply;
    for (const instanceId of instanceIds.slice(1)) {
      const associated = await this.ask(req, 'AssociateIamInstanceProfile', {
        InstanceId: instanceId,
        ...profile,
      });
      if (associated.status >= 300) return associated;
    }
    return reply;
  }

  /**
   * Lambda's `Invoke`, RequestResponse, answered by running the function's handler here (see lambdaHandlers). The
   * function may be named by name or ARN. Lambda answers a function's error with 200, the `X-Amz-Function-Error`
   * header and the error as `{ errorType, errorMessage, trace }`; the SDK gives it as `FunctionError` and `Payload`.
   */
  private async invoke(
    res: ServerResponse,
    named: string,
    headers: IncomingHttpHeaders,
    payload: string,
  ): Promise<void> {
    const functionName = /:function:([^:]+)/.exec(named)?.[1] ?? named.split(':')[0] ?? named;
    const handler = this.lambdaHandlers?.get(functionName);
    const requestId = randomUUID();
    const json = (status: number, body: unknown, extra: OutgoingHttpHeaders = {}) =>
      sendReply(res, {
        status,
        headers: { 'content-type': 'application/json', 'x-amzn-requestid': requestId, ...extra },
        body: JSON.stringify(body) ?? 'null',
      });
    if (handler === undefined) {
      json(
        404,
        { Type: 'User', Message: `Function not found: ${named}` },
        { 'x-amzn-errortype': 'ResourceNotFoundException' },
      );
      return;
    }
    const type = headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type !== 'RequestResponse') {
      throw new Error(`the proxy runs RequestResponse invocations only, not ${String(type)}`);
    }
    let event: unknown;
    try {
      event = payload === '' ? {} : JSON.parse(payload);
    } catch {
      json(
        400,
        { Type: 'User', Message: 'Could not parse request body into json' },
        { 'x-amzn-errortype': 'InvalidRequestContentException' },
      );
      return;
    }
    const executed = { 'x-amz-executed-version': '$LATEST' };
    try {
      json(200, await handler(event, { functionName, requestId }), executed);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      json(
        200,
        {
          errorType: failure.name,
          errorMessage: failure.message,
          trace: (failure.stack ?? '').split('\n'),
        },
        { ...executed, 'x-amz-function-error': 'Unhandled' },
      );
    }
  }

  /** A repeated launch's answer: the first answer, with its instances as DescribeInstances shows them now. */
  private async repeatLaunch(req: IncomingMessage, first: string): Promise<Reply> {
    const instanceIds = launchedInstances(first).map((instance) => instance.instanceId);
    const described = await this.ask(
      req,
      'DescribeInstances',
      Object.fromEntries(instanceIds.map((instanceId, index) => [`InstanceId.${index + 1}`, instanceId])),
    );
    if (described.status >= 300) return described;
    const now = new Map(
      describedInstances(described.body).map((item) => [
        item.instanceId,
        described.body.slice(item.start, item.end),
      ]),
    );
    const items = instanceIds.map((instanceId) => {
      const item = now.get(instanceId);
      if (item === undefined) throw new Error(`the emulator no longer describes ${instanceId}`);
      return item;
    });
    return {
      status: 200,
      headers: { 'content-type': 'text/xml' },
      body: this.withReclaimed(withInstancesSet(first, items)),
    };
  }

  /**
   * DescribeInstances as EC2 shows it: instances launched within the last listingLagMs are not listed yet (a request
   * that names only such instances is answered `InvalidInstanceID.NotFound`), and reclaimed instances give EC2's own
   * state reason.
   */
  private async describeInstances(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams,
    body: Buffer,
  ): Promise<void> {
    // A test's own look at what exists (OBSERVER_HEADER) sees everything: the lag is what the product meets.
    const unlisted = req.headers[OBSERVER_HEADER] === undefined ? this.unlisted() : new Set<string>();
    const named = [...params].filter(([name]) => /^InstanceId\.\d+$/.test(name)).map(([, value]) => value);
    if (named.length > 0 && named.every((instanceId) => unlisted.has(instanceId))) {
      const message =
        named.length === 1
          ? `The instance ID '${named[0]}' does not exist`
          : `The instance IDs '${named.join(', ')}' do not exist`;
      answerError(res, 400, 'InvalidInstanceID.NotFound', message);
      return;
    }
    const reply = await this.send(req, body);
    sendReply(
      res,
      reply.status < 300
        ? { ...reply, body: this.withReclaimed(withoutInstances(reply.body, unlisted)) }
        : reply,
    );
  }

  /** The instances launched through the proxy within the last listingLagMs. */
  private unlisted(): Set<string> {
    const unlisted = new Set<string>();
    if (this.listingLagMs <= 0) return unlisted;
    const since = performance.now() - this.listingLagMs;
    for (const [instanceId, at] of this.launchedAt) {
      if (at > since) unlisted.add(instanceId);
    }
    return unlisted;
  }

  /**
   * An answer describing instances where each reclaimed instance's state reason is EC2's own, not a person's. moto
   * renders an instance's `stateReason` before its `instanceId`: the instance's is the last one before its id.
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

  /** Empties the emulator (POST /moto-api/reset) and forgets captured requests, faults, lag, ClientTokens and the
   * functions Invoke runs. */
  async reset(): Promise<void> {
    const response = await fetch(`${this.motoEndpoint}/moto-api/reset`, { method: 'POST' });
    if (!response.ok) throw new Error(`emulator reset failed: ${response.status}`);
    this.requests.length = 0;
    this.faults.length = 0;
    this.reclaimed.clear();
    this.scheduledEvents.clear();
    this.listingLagMs = 0;
    this.lambdaHandlers = undefined;
    this.launches.clear();
    this.launchedAt.clear();
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

/** Lambda's Invoke: POST /2015-03-31/functions/<name or ARN>/invocations[?Qualifier=...]. */
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/?]+)\/invocations(?:\?|$)/;

/**
 * The items a DynamoDB write touches, as `<table> <key>` strings: the Key or Item of a single write, every item of a
 * transaction or batch. A body the proxy cannot read serialises against every other such body.
 */
function dynamoItemKeys(body: string): string[] {
  type Write = { TableName?: string; Key?: unknown; Item?: { pk?: unknown; sk?: unknown } };
  const keyOf = (write: Write | undefined) =>
    write === undefined
      ? undefined
      : `${write.TableName} ${JSON.stringify(write.Key ?? { pk: write.Item?.pk, sk: write.Item?.sk })}`;
  try {
    const request = JSON.parse(body) as Write & {
      TransactItems?: Record<string, Write>[];
      RequestItems?: Record<string, { PutRequest?: Write; DeleteRequest?: Write }[]>;
    };
    const writes: (Write | undefined)[] = request.TransactItems
      ? request.TransactItems.map((item) => Object.values(item)[0])
      : request.RequestItems
        ? Object.entries(request.RequestItems).flatMap(([TableName, items]) =>
            items.map((item) => ({ TableName, ...(item.PutRequest ?? item.DeleteRequest) })),
          )
        : [request];
    const keys = writes.map(keyOf).filter((key): key is string => key !== undefined);
    return keys.length > 0 ? [...new Set(keys)] : ['*'];
  } catch {
    return ['*'];
  }
}

/** A request carrying this header is a test observing the world: no listing lag applies to it. */
export const OBSERVER_HEADER = 'x-emulator-observer';

/** DynamoDB's actions that write: the proxy serialises them, as DynamoDB's own atomicity would order them. */
const DYNAMODB_WRITES: ReadonlySet<string> = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'TransactWriteItems',
  'BatchWriteItem',
]);

/** moto's whole answer to a request. */
interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders | OutgoingHttpHeaders;
  readonly body: string;
}

/** The first RunInstances request with a ClientToken. */
interface TokenLaunch {
  /** Its parameters (see launchParameters): a repeat with others is a mismatch. */
  readonly parameters: string;
  /** moto's answer once it launched; undefined when the launch failed, which leaves the token unused. */
  readonly answer: Promise<string | undefined>;
}

const EC2_VERSION = '2016-11-15';

/**
 * What a repeated RunInstances must repeat: its form fields but the ClientToken and the Availability Zone (EC2's
 * idempotency allows a retry to name another zone), by name. The SDK puts nothing else in the form that changes
 * between two sends of one request.
 */
function launchParameters(params: URLSearchParams): string {
  const ignored = new Set(['ClientToken', 'Placement.AvailabilityZone', 'Placement.AvailabilityZoneId']);
  const fields = [...params].filter(([name]) => !ignored.has(name));
  return new URLSearchParams(fields.sort(([a], [b]) => a.localeCompare(b))).toString();
}

function sendReply(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
  res.end(reply.body);
}

/** Answers an EC2 error in the XML shape the SDK parses. */
/** Connections the proxy keeps open to moto at most (see Emulator.toMoto). */
const MOTO_CONNECTIONS = 32;

/**
 * The answer to a request moto could not be reached for: a 503 in the shape its API's SDK parses (JSON for
 * DynamoDB's `X-Amz-Target` calls, XML otherwise), so the client retries it as it would AWS's own.
 */
function unreachable(headers: IncomingHttpHeaders | OutgoingHttpHeaders, error: Error): Reply {
  const message = `emulator proxy: moto unreachable: ${error.message}`;
  return headers['x-amz-target'] === undefined
    ? {
        status: 503,
        headers: { 'content-type': 'text/xml' },
        body: ec2ErrorXml('ServiceUnavailable', message),
      }
    : {
        status: 503,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ServiceUnavailable', message }),
      };
}

function answerError(res: ServerResponse, status: number, code: string, message: string): void {
  sendReply(res, { status, headers: { 'content-type': 'text/xml' }, body: ec2ErrorXml(code, message) });
}

/** Waits for one of the proxy's own answers; a harness error is answered 500 with its message, not left hanging. */
function answerWith(res: ServerResponse, answering: Promise<void>): void {
  answering.catch((error: unknown) => {
    if (!res.headersSent) answerError(res, 500, 'InternalError', `emulator proxy: ${String(error)}`);
  });
}

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
