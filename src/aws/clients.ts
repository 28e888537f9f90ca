/**
 * Retry behaviour pinned in one place for every client worker-fleet builds. The endpoint, region and credentials
 * come from the standard chain (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...).
 */
export const CLIENT_DEFAULTS = { maxAttempts: 3, retryMode: 'standard' } as const;
