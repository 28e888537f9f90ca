import { GetFunctionConfigurationCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { readFleetConfig } from '../aws/fleet-config-store';
import { type Config, loadSettings, type Settings, withFleets } from '../config';
import { FleetConfigError } from '../errors';

/** The CLI's view of a deployment could not be had: wrong stage or region, or not deployed. */
export class DeploymentNotFoundError extends Error {
  override name = 'DeploymentNotFoundError';
}

/**
 * A deployed function answered with an error (Lambda's `FunctionError`): its own error's type and message, as the
 * function threw it. Nothing the CLI did failed; the function refused or failed.
 */
export class FunctionFailedError extends Error {
  override name = 'FunctionFailedError';
  constructor(
    readonly functionName: string,
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(`${functionName} failed: ${errorType}: ${errorMessage}`);
  }
}

/** The name serverless.yml gives a function of a stage. */
export const deployedFunctionName = (stage: string, fn: string) => `worker-fleet-${stage}-${fn}`;

/**
 * Invokes a deployed function (RequestResponse) and resolves to its result, parsed. A function error is a
 * FunctionFailedError carrying the function's own error; a function that is not there, a DeploymentNotFoundError.
 */
export async function invokeFunction(
  lambda: LambdaClient,
  where: { readonly stage: string; readonly region: string },
  fn: string,
  payload: unknown,
): Promise<unknown> {
  const { stage, region } = where;
  const functionName = deployedFunctionName(stage, fn);
  const answer = await lambda
    .send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    )
    .catch((error: unknown) => {
      if (error instanceof Error && error.name === 'ResourceNotFoundException') {
        throw new DeploymentNotFoundError(
          `no worker-fleet deployment for stage "${stage}" in ${region} (function ${functionName} not found)`,
        );
      }
      throw error;
    });
  const text = new TextDecoder().decode(answer.Payload ?? new Uint8Array());
  const result: unknown = text === '' ? null : JSON.parse(text);
  if (answer.FunctionError !== undefined) {
    const { errorType, errorMessage } = (result ?? {}) as { errorType?: unknown; errorMessage?: unknown };
    throw new FunctionFailedError(
      functionName,
      typeof errorType === 'string' ? errorType : answer.FunctionError,
      typeof errorMessage === 'string' ? errorMessage : text,
    );
  }
  return result;
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
