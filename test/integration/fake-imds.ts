import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The instance profile's temporary credentials the fake metadata service hands out. */
export const WORKER_CREDENTIALS = {
  accessKeyId: 'ASIAWORKERTESTKEY',
  secretAccessKey: 'worker-test-secret',
  sessionToken: 'worker-test-session-token',
} as const;

/**
 * An EC2 instance metadata service with IMDSv2 semantics, for the agent's tests: a token comes from PUT
 * /latest/api/token; any other request without a valid token is refused (401), as on an instance with
 * HttpTokens=required. Notices and how long each answer takes are set by the test.
 */
export class FakeImds {
  spotNotice: string | undefined;
  rebalanceNotice: string | undefined;
  /**
   * The instance's tags, as EC2 serves them with InstanceMetadataTags enabled (`meta-data/tags/instance/<key>`):
   * read on every request from `tagSource` when set (the emulator's view of the instance), else from `tags`.
   */
  tags: Record<string, string> = {};
  tagSource: (() => Promise<Record<string, string>>) | undefined;
  /** How long every answer takes, token included. */
  delayMs = 0;
  /** Requests refused for want of a valid token: an IMDSv1 client would show up here. */
  refusedWithoutToken = 0;
  tokensIssued = 0;
  private readonly tokens = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    readonly instanceId: string,
  ) {}

  static async start(instanceId: string): Promise<FakeImds> {
    let imds: FakeImds | undefined;
    const server = createServer((req, res) =>
      imds?.handle(req.method ?? '', req.url ?? '', req.headers, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    imds = new FakeImds(server, `http://127.0.0.1:${port}`, instanceId);
    return imds;
  }

  /** Forgets every token, as when a session expires: clients must ask for a new one. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  private handle(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    res: import('node:http').ServerResponse,
  ): void {
    void this.answer(method, url, headers).then(([status, body]) => {
      const send = () => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(body);
      };
      if (this.delayMs > 0) setTimeout(send, this.delayMs);
      else send();
    });
  }

  private async answer(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<[number, string]> {
    if (url === '/latest/api/token') {
      if (method !== 'PUT' || headers['x-aws-ec2-metadata-token-ttl-seconds'] === undefined) return [400, ''];
      const token = randomUUID();
      this.tokens.add(token);
      this.tokensIssued += 1;
      return [200, token];
    }
    const token = headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !this.tokens.has(token)) {
      this.refusedWithoutToken += 1;
      return [401, ''];
    }
    const notice = (value: string | undefined): [number, string] =>
      value === undefined ? [404, ''] : [200, value];
    const tagsPrefix = '/latest/meta-data/tags/instance';
    if (url === tagsPrefix || url.startsWith(`${tagsPrefix}/`)) {
      const tags = (await this.tagSource?.().catch(() => undefined)) ?? this.tags;
      const key = decodeURIComponent(url.slice(tagsPrefix.length + 1));
      return url === tagsPrefix ? [200, Object.keys(tags).join('\n')] : notice(tags[key]);
    }
    switch (url) {
      case '/latest/meta-data/instance-id':
        return [200, this.instanceId];
      case '/latest/meta-data/iam/security-credentials/':
        return [200, 'worker-fleet-test-worker'];
      case '/latest/meta-data/iam/security-credentials/worker-fleet-test-worker':
        return [
          200,
          JSON.stringify({
            Code: 'Success',
            Type: 'AWS-HMAC',
            AccessKeyId: WORKER_CREDENTIALS.accessKeyId,
            SecretAccessKey: WORKER_CREDENTIALS.secretAccessKey,
            Token: WORKER_CREDENTIALS.sessionToken,
            Expiration: new Date(Date.now() + 6 * 3_600_000).toISOString(),
          }),
        ];
      case '/latest/meta-data/spot/instance-action':
        return notice(this.spotNotice);
      case '/latest/meta-data/events/recommendations/rebalance':
        return notice(this.rebalanceNotice);
      default:
        return [404, ''];
    }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
