/**
 * What the access logger needs beyond its entry module: the core and its AWS clients. esbuild puts it in its own
 * chunk, which the handler imports at its first event, so that loading the function stays cheap.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { CLIENT_DEFAULTS } from '../../aws/clients';
import { loadConfig } from '../../config';
import { logger } from '../../logger';
import { lazy } from '../../model/lazy';

export { logS3Access } from '../../access/log-s3-access';

export const dependencies = lazy(() => ({
  config: loadConfig(),
  ec2: new EC2Client(CLIENT_DEFAULTS),
  s3: new S3Client(CLIENT_DEFAULTS),
  sns: new SNSClient(CLIENT_DEFAULTS),
  logger,
}));
