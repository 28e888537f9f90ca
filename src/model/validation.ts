import type * as z from 'zod';

/**
 * One line per problem: `path: message`, so an error names exactly what to fix. A record key that is refused (a
 * fleet name) is told by the key's own rule, not zod's generic "Invalid key in record".
 */
export function describeIssues(error: z.ZodError): string {
  return listIssues(error)
    .map(({ path, message }) => `${path.length > 0 ? path.join('.') : '(root)'}: ${message}`)
    .join('; ');
}

/** The problems one by one, worded as describeIssues words them, each with its path in the document. */
export function listIssues(error: z.ZodError): { path: PropertyKey[]; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path,
    message: issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message,
  }));
}
