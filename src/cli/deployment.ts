import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { readFleetConfig } from '../aws/fleet-config-store';
import { type Config, loadSettings, type Settings, withFleets } from '../config';
import { FleetConfigError } from '../errors';

/** The CLI's view of a deployment could not be had: wrong stage or region, or not deployed. */
export class DeploymentNotFoundError extends Error {
  override name = 'DeploymentNotFoundError';
}

/**
 * The settings of a deployed stage, read from its launcher's environment: the buckets, topic and instance profile
 * the functions themselves run with, so the CLI can never disagree with them.
 */
export async function loadDeploymentSettings(
  lambda: LambdaClient,
  stage: string,
  region: string,
): Promise<Settings> {
  const functionName = `worker-fleet-${stage}-launchWorkers`;
  try {
    const found = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
    return loadSettings({ ...found.Environment?.Variables, AWS_REGION: region });
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') {
      throw new DeploymentNotFoundError(
        `no worker-fleet deployment for stage "${stage}" in ${region} (function ${functionName} not found)`,
      );
    }
    throw error;
  }
}

/**
 * The configuration of a deployed stage: its settings and the fleets of its configuration store, the ones its
 * functions act on.
 */
export async function loadDeployment(
  clients: { readonly lambda: LambdaClient; readonly s3: S3Client },
  stage: string,
  region: string,
): Promise<Config> {
  const settings = await loadDeploymentSettings(clients.lambda, stage, region);
  const stored = await readFleetConfig(clients.s3, settings.stateBucket);
  if (stored === undefined) {
    throw new FleetConfigError(
      `stage "${stage}" has no fleet configuration yet: deploy it, or push one with worker-fleet config push`,
    );
  }
  return withFleets(settings, stored.fleets);
}
