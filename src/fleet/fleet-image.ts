import type { Logger } from '@aws-lambda-powertools/logger';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { resolveImageId } from '../aws/image';
import type { FleetSpec } from '../model/fleet-spec';
import type { FactChange, FleetFacts } from '../model/fleet-state';

/**
 * The change a reconciliation pass records when the fleet's image is not the one it last recorded: the image its
 * launches now use (its `ami` resolved, an SSM parameter read again every 15 minutes at most). What the drift of a
 * worker is judged against (dueRetirements, `worker-fleet status`). A parameter that cannot be read is logged and
 * leaves the record as it is: drift is never judged on a guess; a launch that needs the image still fails as before.
 */
export async function fleetImageChange(
  deps: { readonly ssm: SSMClient; readonly logger: Logger; readonly now: () => Date },
  fleet: string,
  spec: Pick<FleetSpec, 'ami'>,
  facts: Pick<FleetFacts, 'image'>,
): Promise<FactChange[]> {
  const { ssm, logger, now } = deps;
  let imageId: string;
  try {
    imageId = await resolveImageId(ssm, spec.ami, now());
  } catch (error) {
    logger.warn('fleet image not resolved, its record kept', { fleet, ami: spec.ami, error });
    return [];
  }
  const recorded = facts.image;
  if (recorded?.ami === spec.ami && recorded.imageId === imageId) return [];
  logger.info('fleet image changed', {
    fleet,
    ami: spec.ami,
    imageId,
    previousImageId: recorded?.imageId,
  });
  return [{ kind: 'image', image: { ami: spec.ami, imageId, at: now().toISOString() } }];
}
