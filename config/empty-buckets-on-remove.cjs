// Serverless plugin: `serverless remove` empties the stack's versioned buckets first, since CloudFormation cannot
// delete a bucket that holds anything, old versions and delete markers included. Before the framework removes the
// stack, it deletes every version and delete marker of the state, fleet and log buckets (the fleet configuration,
// the workers' data and the access logs go with them: copy what you need first). docs/deployment.md.
const { CloudFormationClient, paginateListStackResources } = require('@aws-sdk/client-cloudformation');
const { DeleteObjectsCommand, ListObjectVersionsCommand, S3Client } = require('@aws-sdk/client-s3');

/** The stack's buckets that this plugin empties: worker-fleet's own (the framework empties its deployment bucket). */
const BUCKETS = ['StateBucket', 'FleetBucket', 'LogBucket'];

class EmptyBucketsOnRemove {
  constructor(serverless, _options, { log }) {
    this.hooks = {
      'before:remove:remove': async () => {
        const provider = serverless.getProvider('aws');
        const settings = await provider.getAwsSdkV3Config();
        const buckets = await stackBuckets(
          new CloudFormationClient(settings),
          provider.naming.getStackName(),
        );
        const s3 = new S3Client(settings);
        let deleted = 0;
        for (const bucket of buckets) deleted += await emptyBucket(s3, bucket);
        log.notice(`Emptied ${buckets.length} buckets (${deleted} object versions and delete markers)`);
      },
    };
  }
}

/** The physical names of the stack's buckets; none when the stack does not exist (the framework says so). */
async function stackBuckets(cloudFormation, stackName) {
  const buckets = [];
  try {
    for await (const page of paginateListStackResources(
      { client: cloudFormation },
      { StackName: stackName },
    )) {
      for (const resource of page.StackResourceSummaries ?? []) {
        const live =
          resource.ResourceStatus !== 'DELETE_COMPLETE' && resource.PhysicalResourceId !== undefined;
        if (BUCKETS.includes(resource.LogicalResourceId) && live) buckets.push(resource.PhysicalResourceId);
      }
    }
  } catch (error) {
    if (error.name === 'ValidationError') return [];
    throw error;
  }
  return buckets;
}

/** Deletes every version and delete marker of a bucket, 1,000 at a time: how many it deleted. */
async function emptyBucket(s3, bucket) {
  let deleted = 0;
  try {
    // ListObjectVersions has no paginator in the SDK: the markers of each page lead to the next.
    for (let markers = {}; markers !== undefined; ) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, ...markers }));
      const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map(({ Key, VersionId }) => ({
        Key,
        VersionId,
      }));
      if (objects.length > 0) {
        const output = await s3.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }),
        );
        const failed = output.Errors ?? [];
        if (failed.length > 0) {
          throw new Error(
            `could not empty ${bucket}: ${failed[0].Key} ${failed[0].Code} (${failed.length} failed)`,
          );
        }
        deleted += objects.length;
      }
      markers = page.IsTruncated
        ? { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker }
        : undefined;
    }
  } catch (error) {
    if (error.name === 'NoSuchBucket') return deleted;
    throw error;
  }
  return deleted;
}

module.exports = EmptyBucketsOnRemove;
