/**
 * The spot handler's second phase: the core, the EC2, SSM and EventBridge clients, and the metrics (nothing of the
 * first step emits one). esbuild puts it in a chunk of
 * its own, which the handler imports only once a warning's notification is out (S3 and SNS are all that needs), so
 * that the notification never waits for the EC2 client to load. test/unit/spot-entry.test.ts fails when the
 * handler's entry reaches the EC2 client statically.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createClients } from '../aws/clients';

export { handleInstanceEvent } from '../fleet/spot-interruption';
export { PowertoolsMetricsSink } from '../metrics';

/** Built once per container, when the phase first loads. */
export const ec2PhaseClients = createClients({ ec2: EC2Client, ssm: SSMClient, events: EventBridgeClient });
