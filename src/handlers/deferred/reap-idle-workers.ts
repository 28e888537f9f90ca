/**
 * What the idle reaper needs beyond its entry module: the core and its AWS clients, counted. esbuild puts it in its
 * own chunk, which the handler imports at its first event, so that loading the function stays cheap.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { CallCounter, countCalls } from '../../aws/call-counter';
import { CLIENT_DEFAULTS } from '../../aws/clients';
import { loadConfig } from '../../config';
import { logger } from '../../logger';
import { lazy } from '../../model/lazy';

export { reapIdleWorkers } from '../../fleet/reap-idle-workers';

export const dependencies = lazy(() => {
  const calls = new CallCounter();
  return {
    config: loadConfig(),
    ec2: countCalls(new EC2Client(CLIENT_DEFAULTS), calls),
    s3: countCalls(new S3Client(CLIENT_DEFAULTS), calls),
    cloudwatch: countCalls(new CloudWatchClient(CLIENT_DEFAULTS), calls),
    sns: countCalls(new SNSClient(CLIENT_DEFAULTS), calls),
    logger,
    now: () => new Date(),
    calls,
  };
});
