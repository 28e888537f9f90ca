/**
 * The few errors the code really distinguishes. All of them mean "bad input, nothing was changed":
 * handlers let them propagate so the caller (or the failure destination) sees the precise reason.
 */

/** A configuration value is missing or malformed; raised before any AWS call. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** An event or invocation payload does not have the shape its trigger promises. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

/** A request names a fleet this deployment does not manage. */
export class UnknownFleetError extends Error {
  override name = 'UnknownFleetError';

  constructor(
    readonly fleet: string,
    readonly knownFleets: readonly string[],
  ) {
    super(`unknown fleet "${fleet}"; this deployment manages: ${knownFleets.join(', ') || '(none)'}`);
  }
}

/** An instance id that is not a live worker of this deployment: unknown to EC2, or not carrying its tag. */
export class NotAWorkerError extends Error {
  override name = 'NotAWorkerError';
}

/** A worker tagged `worker-fleet:protected` that an operator asked to drain without forcing it. */
export class ProtectedWorkerError extends Error {
  override name = 'ProtectedWorkerError';
}

/**
 * The fleet configuration cannot be used: absent from its store, not JSON, or refused by the fleet schema. At
 * write nothing was stored; at read the functions keep the last good configuration they have, or act on none.
 */
export class FleetConfigError extends Error {
  override name = 'FleetConfigError';
}

/** The fleet configuration changed between reading its version and writing a new one: nothing was written. */
export class FleetConfigChangedError extends Error {
  override name = 'FleetConfigChangedError';
}
