import { DescribeImagesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '../errors';

/** How long a parameter's value is trusted: a new image reaches the fleet's launches within this. */
export const IMAGE_PARAMETER_MAX_AGE_MS = 15 * 60_000;

const resolved = new Map<string, { readonly imageId: string; readonly at: number }>();

/**
 * The AMI id for a fleet's `ami`: an id is used as it is; an SSM parameter name (such as the public
 * `/aws/service/ami-amazon-linux-latest/...`) is read again once its value is IMAGE_PARAMETER_MAX_AGE_MS old
 * (`now`, the caller's clock), so a new image in the parameter reaches the fleet without a new container.
 */
export async function resolveImageId(ssm: SSMClient, ami: string, now = new Date()): Promise<string> {
  if (ami.startsWith('ami-')) return ami;
  const known = resolved.get(ami);
  const age = known === undefined ? Number.POSITIVE_INFINITY : now.getTime() - known.at;
  if (known !== undefined && age >= 0 && age < IMAGE_PARAMETER_MAX_AGE_MS) return known.imageId;
  const output = await ssm.send(new GetParameterCommand({ Name: ami }));
  const value = output.Parameter?.Value ?? '';
  if (!/^ami-[0-9a-f]{8,17}$/.test(value)) {
    throw new ConfigError(`SSM parameter ${ami} does not hold an AMI id (found "${value}")`);
  }
  resolved.set(ami, { imageId: value, at: now.getTime() });
  return value;
}

const rootDevices = new Map<string, string>();

/**
 * The device name of an AMI's root volume (`/dev/xvda` on Amazon Linux, `/dev/sda1` on Ubuntu), which a block device
 * mapping must name to replace that volume rather than add one: asked of EC2 once per AMI and container.
 */
export async function resolveRootDeviceName(ec2: EC2Client, imageId: string): Promise<string> {
  const known = rootDevices.get(imageId);
  if (known !== undefined) return known;
  const output = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  const name = output.Images?.[0]?.RootDeviceName;
  if (name === undefined)
    throw new ConfigError(`AMI ${imageId} has no root device name; rootVolume cannot apply`);
  rootDevices.set(imageId, name);
  return name;
}
