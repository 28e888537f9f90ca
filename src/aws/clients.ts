/**
 * Retry behaviour pinned in one place for every client worker-fleet builds. The endpoint, region and credentials
 * come from the standard chain (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...).
 */
export const CLIENT_DEFAULTS = { maxAttempts: 3, retryMode: 'standard' } as const;

/** Builds a value on first use and keeps it: clients cost load time, so handlers create them when needed, once. */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= build();
    return value;
  };
}
