import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '../errors';

const resolved = new Map<string, string>();

/**
 * The AMI id for a fleet's `ami`: an id is used as it is; an SSM parameter name (such as the public
 * `/aws/service/ami-amazon-linux-latest/...`) is read once per container and remembered.
 */
export async function resolveImageId(ssm: SSMClient, ami: string): Promise<string> {
  if (ami.startsWith('ami-')) return ami;
  const known = resolved.get(ami);
  if (known !== undefined) return known;
  const output = await ssm.send(new GetParameterCommand({ Name: ami }));
  const value = output.Parameter?.Value ?? '';
  if (!/^ami-[0-9a-f]{8,17}$/.test(value)) {
    throw new ConfigError(`SSM parameter ${ami} does not hold an AMI id (found "${value}")`);
  }
  resolved.set(ami, value);
  return value;
}
