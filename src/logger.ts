import { Logger } from '@aws-lambda-powertools/logger';

/** The one Logger. Handlers add the Lambda context; the core appends `fleet` and `instanceId` as it works. */
export const logger = new Logger({ serviceName: 'worker-fleet' });
