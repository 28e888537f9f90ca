import { createHash } from 'node:crypto';

/**
 * An EC2 ClientToken derived from what identifies one request (deployment, fleet, trigger id, chunk, pool): the same
 * trigger always produces the same token, so EC2 itself refuses to launch twice for a redelivered event. 64 hex
 * characters, the longest token EC2 accepts.
 */
export function clientToken(parts: readonly (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}
