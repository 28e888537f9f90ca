import { _InstanceType } from '@aws-sdk/client-ec2';
import { describeUnknownInstanceTypes, type FleetSpec } from '../model/fleet-spec';

/** Every instance type the installed EC2 client lists. Kept out of the functions' bundles: only validation needs it. */
const KNOWN_INSTANCE_TYPES: ReadonlySet<string> = new Set(Object.values(_InstanceType));

/**
 * The warnings of validated fleets (validateFleetConfig's result): an instance type the SDK does not know. Warnings
 * never refuse a fleet.
 */
export function describeFleetConfigWarnings(fleets: Readonly<Record<string, FleetSpec>>): string[] {
  return describeUnknownInstanceTypes(fleets, KNOWN_INSTANCE_TYPES);
}
