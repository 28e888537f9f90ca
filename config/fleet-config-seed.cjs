// Serverless plugin: after `serverless deploy`, seeds the fleet configuration store (`config/fleets.json` in the
// state bucket) with the stage's fleets file (custom.fleetsSeed, validated when it was resolved). It writes when the
// store is empty, or when what it holds was written by a deploy; a document pushed with `worker-fleet config push`
// is the operator's and is never overwritten: the deploy says so and leaves it. Every write is conditional on the
// version it saw, so a push that lands meanwhile wins and is reported too. docs/configuration.md.
const { CloudFormationClient, paginateListStackResources } = require('@aws-sdk/client-cloudformation');
const { S3Client } = require('@aws-sdk/client-s3');
const { decodeFleetsSeed, loadFleetConfigStore } = require('./fleets.cjs');

class FleetConfigSeed {
  constructor(serverless, _options, { log }) {
    this.hooks = {
      'after:deploy:deploy': async () => {
        const provider = serverless.getProvider('aws');
        const settings = await provider.getAwsSdkV3Config();
        const cloudFormation = new CloudFormationClient(settings);
        const bucket = await stackResourceId(cloudFormation, provider.naming.getStackName(), 'StateBucket');
        const s3 = new S3Client(settings);
        const seed = decodeFleetsSeed(serverless.service.custom.fleetsSeed);
        const outcome = await seedFleetConfig(loadFleetConfigStore(), s3, bucket, seed);
        if (outcome.written) log.notice(`Fleet configuration: ${outcome.message}`);
        else log.warning(`Fleet configuration: ${outcome.message}`);
      },
    };
  }
}

/**
 * The physical id of one of the stack's resources. ListStackResources, not DescribeStackResource: the emulator
 * answers the latter with a 500.
 */
async function stackResourceId(cloudFormation, stackName, logicalId) {
  for await (const page of paginateListStackResources({ client: cloudFormation }, { StackName: stackName })) {
    const found = page.StackResourceSummaries?.find((resource) => resource.LogicalResourceId === logicalId);
    if (found !== undefined) return found.PhysicalResourceId;
  }
  throw new Error(`stack ${stackName} has no resource ${logicalId}`);
}

/** Writes the seed unless the store holds a pushed document: what was done, or why not. */
async function seedFleetConfig(store, s3, bucket, seed) {
  const where = `s3://${bucket}/${store.FLEET_CONFIG_KEY}`;
  const current = await store.headFleetConfig(s3, bucket);
  if (current !== undefined && current.writtenBy !== 'deploy') {
    return {
      written: false,
      message: `${where} holds a document written by ${current.writtenBy ?? 'another writer'} (version ${
        current.versionId ?? current.etag
      }); the fleets file was not applied. Push it with \`worker-fleet config push <file>\` to replace that document.`,
    };
  }
  try {
    const version = await store.writeFleetConfig(
      s3,
      bucket,
      seed,
      'deploy',
      current === undefined ? { absent: true } : { etag: current.etag },
    );
    return {
      written: true,
      message: `seeded ${where} from the fleets file (version ${version.versionId ?? version.etag})`,
    };
  } catch (error) {
    if (error.name !== 'FleetConfigChangedError') throw error;
    return {
      written: false,
      message: `${where} changed while the deploy seeded it; the fleets file was not applied`,
    };
  }
}

module.exports = FleetConfigSeed;
module.exports.seedFleetConfig = seedFleetConfig;
