/** The command line is wrong (an unknown option, a malformed value, a profile that does not exist): exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
