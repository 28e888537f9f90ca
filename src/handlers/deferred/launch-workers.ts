/**
 * What the launcher needs beyond its entry module: the core and its AWS clients. esbuild puts it in its own chunk,
 * which the handler imports at its first event, so that loading the function stays cheap (bench/results.md).
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { CLIENT_DEFAULTS } from '../../aws/clients';
import { loadConfig } from '../../config';
import { logger } from '../../logger';
import { lazy } from '../../model/lazy';

export { launchWorkers } from '../../fleet/launch-workers';

export const dependencies = lazy(() => ({
  config: loadConfig(),
  ec2: new EC2Client(CLIENT_DEFAULTS),
  ssm: new SSMClient(CLIENT_DEFAULTS),
  sns: new SNSClient(CLIENT_DEFAULTS),
  s3: new S3Client(CLIENT_DEFAULTS),
  logger,
  now: () => new Date(),
}));
