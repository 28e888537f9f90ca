import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { FleetConfigChangedError, FleetConfigError } from '../errors';
import { type FleetSpec, fleetsSchema } from '../model/fleet-spec';
import { describeIssues } from '../model/validation';

/**
 * The fleet configuration store: one JSON document, the map of fleets exactly as `fleets.yml` holds it, at this key
 * of the state bucket (versioned, so every document pushed is kept for a while). docs/configuration.md says why an
 * object here rather than SSM parameters or AppConfig.
 */
export const FLEET_CONFIG_KEY = 'config/fleets.json';

/** Who wrote the stored document (object metadata): the deploy's seed from fleets.yml, or `worker-fleet config push`. */
export type FleetConfigWriter = 'deploy' | 'config-push';

/** The stored document's version: its ETag (for conditional writes) and, in a versioned bucket, its version id. */
export interface FleetConfigVersion {
  readonly etag: string;
  readonly versionId?: string;
  readonly lastModified?: string;
  readonly writtenBy?: string;
}

export interface StoredFleetConfig {
  /** The document as written (what `config show` prints and `config push` replaces). */
  readonly document: unknown;
  /** The fleets it declares, validated and completed with their defaults. */
  readonly fleets: Readonly<Record<string, FleetSpec>>;
  readonly version: FleetConfigVersion;
}

/**
 * Validates a fleet configuration document with the schema packaging uses: the fleets, or a FleetConfigError naming
 * every problem (`batch.subnets.0: must be a subnet id (subnet-…)`).
 */
export function validateFleetConfig(document: unknown): Record<string, FleetSpec> {
  const parsed = fleetsSchema.safeParse(document);
  if (!parsed.success)
    throw new FleetConfigError(`fleet configuration is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

const location = (bucket: string) => `s3://${bucket}/${FLEET_CONFIG_KEY}`;

/**
 * Reads and validates the stored fleet configuration: undefined when there is none; a FleetConfigError when it is
 * not JSON or not valid. One GET of one object, so a reader never sees half of a write.
 */
export async function readFleetConfig(s3: S3Client, bucket: string): Promise<StoredFleetConfig | undefined> {
  let text: string;
  let version: FleetConfigVersion;
  try {
    const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: FLEET_CONFIG_KEY }));
    text = (await output.Body?.transformToString()) ?? '';
    version = {
      etag: output.ETag ?? '',
      versionId: output.VersionId,
      lastModified: output.LastModified?.toISOString(),
      writtenBy: output.Metadata?.['written-by'],
    };
  } catch (error) {
    if (error instanceof Error && error.name === 'NoSuchKey') return undefined;
    throw error;
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new FleetConfigError(`${location(bucket)} is not JSON: ${(error as Error).message}`);
  }
  try {
    return { document, fleets: validateFleetConfig(document), version };
  } catch (error) {
    throw new FleetConfigError(
      `${location(bucket)} (version ${version.versionId ?? version.etag}): ${(error as Error).message}`,
    );
  }
}

/** The stored document's version and writer, without reading or judging it: undefined when there is none. */
export async function headFleetConfig(s3: S3Client, bucket: string): Promise<FleetConfigVersion | undefined> {
  try {
    const output = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: FLEET_CONFIG_KEY }));
    return {
      etag: output.ETag ?? '',
      versionId: output.VersionId,
      lastModified: output.LastModified?.toISOString(),
      writtenBy: output.Metadata?.['written-by'],
    };
  } catch (error) {
    if (error instanceof Error && ['NotFound', 'NoSuchKey'].includes(error.name)) return undefined;
    throw error;
  }
}

/** What a write expects to replace: no document yet, or the version read (its ETag). */
export type ExpectedFleetConfig = { readonly absent: true } | { readonly etag: string };

/**
 * Writes a fleet configuration document, validated first: a document the schema refuses is never written (a
 * FleetConfigError, nothing changed). The write is conditional on `expected` (`If-None-Match: *` or `If-Match`), so
 * a document changed since it was read is never overwritten unseen (a FleetConfigChangedError).
 */
export async function writeFleetConfig(
  s3: S3Client,
  bucket: string,
  document: unknown,
  writtenBy: FleetConfigWriter,
  expected: ExpectedFleetConfig,
): Promise<FleetConfigVersion> {
  validateFleetConfig(document);
  try {
    const output = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: FLEET_CONFIG_KEY,
        Body: JSON.stringify(document, null, 2),
        ContentType: 'application/json',
        Metadata: { 'written-by': writtenBy },
        ...('absent' in expected ? { IfNoneMatch: '*' } : { IfMatch: expected.etag }),
      }),
    );
    return { etag: output.ETag ?? '', versionId: output.VersionId, writtenBy };
  } catch (error) {
    if (error instanceof Error && ['PreconditionFailed', 'ConditionalRequestConflict'].includes(error.name)) {
      throw new FleetConfigChangedError(
        `${location(bucket)} changed since it was read (another push or deploy): nothing was written; read it and push again`,
      );
    }
    throw error;
  }
}

export interface FleetConfigReaderOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Told when a read fails or is refused while an earlier good configuration stays in use. */
  readonly logger: { error(message: string, fields: { error: Error }): void };
  /** The clock, in milliseconds (Date.now unless a test sets it). */
  readonly now?: () => number;
  /** How long a container uses what it read before reading again. */
  readonly ttlMs?: number;
  /** Told when a read fails with no good configuration to fall back on (the call then fails): to count it. */
  readonly onUnreadable?: (error: Error) => void;
}

/** Thirty seconds: a pushed change reaches every function within half a minute, for one GET per container. */
export const FLEET_CONFIG_TTL_MS = 30_000;

/**
 * The fleets a function acts on, read from the store at most once per `ttlMs` per container. A document that fails
 * to read or validate never replaces a good one: the last good fleets stay in use (and `onStale` is told); with none
 * yet, the error is thrown, so the function acts on no fleets rather than on a part of them. Calls while a read is
 * under way share it: one GET however many events a container's cache expiry meets.
 */
export function createFleetConfigReader(options: FleetConfigReaderOptions) {
  const { ttlMs = FLEET_CONFIG_TTL_MS, now: clock = () => Date.now() } = options;
  let good: { readonly fleets: Readonly<Record<string, FleetSpec>>; readonly readAt: number } | undefined;
  let reading: Promise<Readonly<Record<string, FleetSpec>>> | undefined;

  async function read(startedAt: number): Promise<Readonly<Record<string, FleetSpec>>> {
    try {
      const stored = await readFleetConfig(options.s3, options.bucket);
      if (stored === undefined) {
        throw new FleetConfigError(
          `no fleet configuration at ${location(options.bucket)}: deploy seeds it from fleets.yml, or push one with worker-fleet config push`,
        );
      }
      good = { fleets: Object.freeze(stored.fleets), readAt: startedAt };
      return good.fleets;
    } catch (error) {
      if (good === undefined) {
        options.onUnreadable?.(error as Error);
        throw error;
      }
      options.logger.error('fleet configuration unreadable, the last good one stays in use', {
        error: error as Error,
      });
      return good.fleets;
    }
  }

  /** One read at a time: a caller that comes while one is under way gets its answer. */
  const refresh = (now: number) => {
    reading ??= read(now).finally(() => {
      reading = undefined;
    });
    return reading;
  };

  return {
    /** The fleets as stored now, past the cache (which it refreshes); the last good ones when the read fails. */
    fleetsNow: async (): Promise<Readonly<Record<string, FleetSpec>>> => refresh(clock()),
    async fleets(): Promise<Readonly<Record<string, FleetSpec>>> {
      const now = clock();
      if (good !== undefined && now - good.readAt < ttlMs) return good.fleets;
      return refresh(now);
    },
  };
}
