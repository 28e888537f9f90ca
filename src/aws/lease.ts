import type { S3Client } from '@aws-sdk/client-s3';
import { createIfAbsent, readJson, replaceIfMatch } from './state-store';

/**
 * A lease on one key of the state bucket: one holder at a time, until an expiry after which anyone may take it
 * (an invocation that dies holding it never blocks the next for longer). A caller that finds it held may ask the
 * holder for another run (`pending`): the holder sees it when it releases and runs again, so a request made while
 * the holder works is never lost while the holder lives. Every write is conditional (S3 `If-None-Match`/`If-Match`).
 */
interface LeaseDocument {
  readonly holder?: string;
  /** ISO time after which the lease is free whatever its holder. */
  readonly until?: string;
  /** Someone asked for another run while the holder worked. */
  readonly pending?: boolean;
}

export interface HeldLease {
  readonly bucket: string;
  readonly key: string;
  readonly holder: string;
  /** The version this holder last wrote: every later write of the holder is conditional on it. */
  etag: string;
}

export type LeaseAttempt =
  | { readonly kind: 'held'; readonly lease: HeldLease }
  /** Held by another, which was asked to run again: what this caller wanted is now the holder's to do. */
  | { readonly kind: 'handed-off'; readonly holder: string }
  /** Held by another, and the caller did not ask to hand off. */
  | { readonly kind: 'busy'; readonly holder: string };

/** Conditional writes lost this many times in a row mean something is wrong, not busy. */
const MAX_ATTEMPTS = 10;

const until = (now: Date, ttlMs: number) => new Date(now.getTime() + ttlMs).toISOString();

/** Takes the lease, or (with `handOff`) asks its live holder to run again, or says who holds it. */
export async function acquireLease(
  s3: S3Client,
  bucket: string,
  key: string,
  request: { readonly holder: string; readonly now: Date; readonly ttlMs: number; readonly handOff: boolean },
): Promise<LeaseAttempt> {
  const { holder, now, ttlMs, handOff } = request;
  const mine: LeaseDocument = { holder, until: until(now, ttlMs), pending: false };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    // Read first: a lease given back stays as an empty document, so in the steady state this is one read and one
    // conditional write (creating first would cost a refused write as well).
    const current = await readJson<LeaseDocument>(s3, bucket, key);
    if (current === undefined) {
      const created = await createIfAbsent(s3, bucket, key, mine);
      if (created !== undefined) return { kind: 'held', lease: { bucket, key, holder, etag: created } };
      continue;
    }
    const { value } = current;
    const free =
      value.holder === undefined || value.until === undefined || Date.parse(value.until) <= now.getTime();
    if (free) {
      const taken = await replaceIfMatch(s3, bucket, key, current.etag, mine);
      if (taken !== undefined) return { kind: 'held', lease: { bucket, key, holder, etag: taken } };
      continue;
    }
    const other = value.holder ?? '';
    if (!handOff) return { kind: 'busy', holder: other };
    if (value.pending === true) return { kind: 'handed-off', holder: other };
    const asked = await replaceIfMatch(s3, bucket, key, current.etag, { ...value, pending: true });
    if (asked !== undefined) return { kind: 'handed-off', holder: other };
  }
  throw new Error(`lease ${key}: ${MAX_ATTEMPTS} conditional writes lost in a row`);
}

/**
 * Gives the lease back: `released`; or, when someone asked for another run meanwhile, keeps it (renewed, the request
 * taken) and says `again`; or `lost` when its expiry passed and another took it.
 */
export async function releaseLease(
  s3: S3Client,
  lease: HeldLease,
  renewal: { readonly now: Date; readonly ttlMs: number },
): Promise<'released' | 'again' | 'lost'> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    if ((await replaceIfMatch(s3, lease.bucket, lease.key, lease.etag, {})) !== undefined) return 'released';
    const current = await readJson<LeaseDocument>(s3, lease.bucket, lease.key);
    if (current === undefined || current.value.holder !== lease.holder) return 'lost';
    if (current.value.pending !== true) {
      lease.etag = current.etag;
      continue;
    }
    const renewed = await replaceIfMatch(s3, lease.bucket, lease.key, current.etag, {
      holder: lease.holder,
      until: until(renewal.now, renewal.ttlMs),
      pending: false,
    });
    if (renewed !== undefined) {
      lease.etag = renewed;
      return 'again';
    }
  }
  throw new Error(`lease ${lease.key}: ${MAX_ATTEMPTS} conditional writes lost in a row`);
}
