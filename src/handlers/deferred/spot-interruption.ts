/**
 * What the interruption handler needs beyond a warning's first step: the core, and the EC2, SSM and EventBridge
 * clients. esbuild puts it in its own chunk, which the handler imports once a warning's first step (S3 and SNS: the
 * notification) is done.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SSMClient } from '@aws-sdk/client-ssm';
import { CLIENT_DEFAULTS } from '../../aws/clients';
import { lazy } from '../../model/lazy';

export { handleInstanceEvent } from '../../fleet/spot-interruption';

export const dependencies = lazy(() => ({
  ec2: new EC2Client(CLIENT_DEFAULTS),
  ssm: new SSMClient(CLIENT_DEFAULTS),
  events: new EventBridgeClient(CLIENT_DEFAULTS),
}));
