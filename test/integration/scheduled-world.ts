import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { listFleetWorkers } from '../../src/aws/ec2-workers';
import { type HealthScheduledChange, parseHealthEvent } from '../../src/events/health';
import type { FleetWorld } from './fleet-world';

/**
 * AWS's documented Health retirement (events/health-scheduled-change.json), naming these instances by ARN, with
 * `detail` fields overridden and `eventRegion` set when given: what the launcher's handler narrows.
 */
export function healthEventNaming(
  instanceIds: readonly string[],
  detail: Record<string, unknown> = {},
  region?: string,
): HealthScheduledChange {
  const sample = JSON.parse(
    readFileSync(join(__dirname, '../../events/health-scheduled-change.json'), 'utf8'),
  ) as { detail: Record<string, unknown> };
  return parseHealthEvent({
    ...sample,
    detail: {
      ...sample.detail,
      ...(region === undefined ? {} : { eventRegion: region }),
      affectedEntities: instanceIds.map((instanceId) => ({
        entityValue: `arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`,
        status: 'PENDING',
      })),
      ...detail,
    },
  });
}

/** Another Amazon AMI of the emulator than the world's: what a changed AMI parameter names. */
export async function otherImage(world: FleetWorld): Promise<string> {
  const images = await world.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }));
  const other = images.Images?.map((image) => image.ImageId).find(
    (id) => id?.startsWith('ami-') && id !== world.imageId,
  );
  if (other === undefined) throw new Error('the emulator lists one Amazon AMI only');
  return other;
}

/** Writes (or overwrites) an SSM parameter holding an AMI id, as a fleet's `ami` names it. */
export async function putImageParameter(world: FleetWorld, name: string, imageId: string): Promise<void> {
  await world.ssm.send(
    new PutParameterCommand({ Name: name, Value: imageId, Type: 'String', Overwrite: true }),
  );
}

/** The fleet's workers as a retirement run lists them (listFleetWorkers: this deployment's, live). */
export function fleetWorkers(world: FleetWorld, fleets: Record<string, unknown>, fleet = 'batch') {
  const { managedBy, instanceProfile } = world.config(fleets);
  return listFleetWorkers(world.ec2, { managedBy, instanceProfile, fleet });
}
