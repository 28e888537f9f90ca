import { type CallCounter, countCalls } from './call-counter';

/**
 * Retry behaviour pinned in one place for every client worker-fleet builds. The endpoint, region and credentials
 * come from the standard chain (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...) unless the caller gives them.
 */
export const CLIENT_DEFAULTS = { maxAttempts: 3, retryMode: 'standard' } as const;

/** What a caller may set beyond the defaults: the CLI's region and profile. */
export interface ClientSettings {
  readonly region?: string;
  /** A shared config profile, for the credentials (the SDK's `profile` client setting). */
  readonly profile?: string;
}

type ClientClass = new (config: typeof CLIENT_DEFAULTS & ClientSettings) => object;

/**
 * Builds the clients a function or the CLI uses, each with the same settings, and counts their calls when given a
 * counter. Callers name the client classes they need, so a function's bundle holds those SDK clients and no other:
 * `createClients({ ec2: EC2Client, s3: S3Client })`.
 */
export function createClients<T extends Record<string, ClientClass>>(
  classes: T,
  settings: ClientSettings = {},
  calls?: CallCounter,
): { readonly [K in keyof T]: InstanceType<T[K]> } {
  const clients: Record<string, object> = {};
  for (const [name, Client] of Object.entries(classes)) {
    const client = new Client({ ...CLIENT_DEFAULTS, ...settings });
    clients[name] = calls === undefined ? client : countCalls(client, calls);
  }
  return clients as { readonly [K in keyof T]: InstanceType<T[K]> };
}
