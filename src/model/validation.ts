import type * as z from 'zod';

/**
 * One line per problem: `path: message`, so an error names exactly what to fix. A record key that is refused (a
 * fleet name) is told by the key's own rule, not zod's generic "Invalid key in record".
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const message =
        issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
      return `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${message}`;
    })
    .join('; ');
}
