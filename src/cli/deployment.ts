import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { type Config, loadConfig } from '../config';

/** The CLI's view of a deployment could not be had: wrong stage or region, or not deployed. */
export class DeploymentNotFoundError extends Error {
  override name = 'DeploymentNotFoundError';
}

/**
 * The configuration of a deployed stage, read from its launcher's environment: the fleets, buckets, topic and
 * instance profile the functions themselves run with, so the CLI can never disagree with them.
 */
export async function loadDeployment(lambda: LambdaClient, stage: string, region: string): Promise<Config> {
  const functionName = `worker-fleet-${stage}-launchWorkers`;
  try {
    const found = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    return loadConfig({ ...found.Environment?.Variables, AWS_REGION: region });
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') {
      throw new DeploymentNotFoundError(
        `no worker-fleet deployment for stage "${stage}" in ${region} (function ${functionName} not found)`,
      );
    }
    throw error;
  }
}
