import type { EC2Client } from '@aws-sdk/client-ec2';
import { listFleetWorkers } from '../aws/ec2-workers';
import { TAG } from '../model/tags';
import type { Owner, Worker } from '../model/worker';

/** Live workers of one fleet that the configuration does not name: orphans. */
export interface OrphanFleet {
  readonly fleet: string;
  readonly workers: readonly Worker[];
}

/**
 * Of the deployment's live workers, those whose fleet tag names none of the configured fleets, grouped by that fleet
 * (in name order). Pure.
 */
export function orphansAmong(workers: readonly Worker[], configured: readonly string[]): OrphanFleet[] {
  const known = new Set(configured);
  const byFleet = new Map<string, Worker[]>();
  for (const worker of workers) {
    const fleet = worker.tags[TAG.fleet] ?? '';
    if (known.has(fleet)) continue;
    byFleet.set(fleet, [...(byFleet.get(fleet) ?? []), worker]);
  }
  return [...byFleet]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([fleet, fleetWorkers]) => ({ fleet, workers: fleetWorkers }));
}

/**
 * The deployment's live workers (its managed-by tag and worker profile, isOwnedBy) of fleets that `configured` does
 * not name: those of a fleet removed from the configuration, or about to be. Reads only.
 */
export async function findOrphans(
  deps: { readonly ec2: EC2Client; readonly owner: Owner },
  configured: readonly string[],
): Promise<OrphanFleet[]> {
  return orphansAmong(await listFleetWorkers(deps.ec2, deps.owner), configured);
}
