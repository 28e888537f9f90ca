// Serverless plugin: `serverless remove` does not leave the fleets' workers running, silently, with their role gone.
// Before the framework removes the stack (and before config/empty-buckets-on-remove.cjs empties its buckets), it
// stops the functions that launch (reserved concurrency 0: no schedule, rule or request can launch again), then
// terminates every worker of this deployment and waits until EC2 says each is going; after the stack is gone it
// looks once more, for a launch that was in flight. `--param keepWorkers=true` keeps them, naming each.
// A worker is this deployment's only with its managed-by tag *and* its worker instance profile, as the reaper
// checks: nothing else is ever terminated. docs/deployment.md#removing-the-stack.
const { CloudFormationClient, paginateListStackResources } = require('@aws-sdk/client-cloudformation');
const { EC2Client, paginateDescribeInstances, TerminateInstancesCommand } = require('@aws-sdk/client-ec2');
const { LambdaClient, PutFunctionConcurrencyCommand } = require('@aws-sdk/client-lambda');

/** The functions that launch workers: stopped first, so no worker appears after the sweep. */
const LAUNCHING_FUNCTIONS = ['launchWorkers', 'handleSpotInterruption'];
/** The states of an instance that is, or may become, a running worker. */
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];
/** How long to wait for EC2 to list the terminated workers as going, and the pause between looks. */
const WAIT_MS = 120_000;
const PAUSE_MS = 3_000;

class TerminateWorkersOnRemove {
  constructor(serverless, options, { log }) {
    const context = () => {
      const provider = serverless.getProvider('aws');
      const stage = provider.getStage();
      return {
        provider,
        managedBy: `${serverless.service.service}-${stage}`,
        keep: keepWorkers(options.param),
      };
    };
    this.hooks = {
      'before:remove:remove': async () => {
        const { provider, managedBy, keep } = context();
        const settings = await provider.getAwsSdkV3Config();
        const profile = await stackInstanceProfile(
          new CloudFormationClient(settings),
          provider.naming.getStackName(),
        );
        if (profile === undefined) return;
        this.profile = profile;
        const ec2 = new EC2Client(settings);
        const owned = { managedBy, profile };
        if (keep) {
          const kept = await liveWorkers(ec2, owned);
          if (kept.length > 0) {
            log.warning(
              `Keeping ${kept.length} workers running (keepWorkers): ${kept.join(' ')}; nothing manages them once the stack is gone`,
            );
          }
          return;
        }
        const lambda = new LambdaClient(settings);
        for (const fn of LAUNCHING_FUNCTIONS) {
          const name = serverless.service.getFunction(fn).name;
          await lambda
            .send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 0 }))
            .catch((error) => {
              if (error.name !== 'ResourceNotFoundException') throw error;
            });
        }
        log.notice(`Stopped ${LAUNCHING_FUNCTIONS.join(' and ')}: nothing launches workers any more`);
        const terminated = await terminateWorkers(ec2, owned);
        log.notice(
          terminated.length === 0
            ? 'No workers to terminate'
            : `Terminated ${terminated.length} workers: ${terminated.join(' ')}`,
        );
      },
      'after:remove:remove': async () => {
        const { provider, managedBy, keep } = context();
        if (keep || this.profile === undefined) return;
        const ec2 = new EC2Client(await provider.getAwsSdkV3Config());
        const late = await terminateWorkers(ec2, { managedBy, profile: this.profile });
        if (late.length > 0)
          log.notice(`Terminated ${late.length} workers launched meanwhile: ${late.join(' ')}`);
      },
    };
  }
}

/** Whether `--param keepWorkers=true` was given (osls and v4 pass `--param` as a list of key=value). */
function keepWorkers(params) {
  const list = Array.isArray(params) ? params : params === undefined ? [] : [params];
  return list.some((param) => /^keepWorkers=true$/.test(String(param)));
}

/** The stack's worker instance profile (name and ARN suffix); undefined when the stack does not exist. */
async function stackInstanceProfile(cloudFormation, stackName) {
  try {
    for await (const page of paginateListStackResources(
      { client: cloudFormation },
      { StackName: stackName },
    )) {
      for (const resource of page.StackResourceSummaries ?? []) {
        if (resource.LogicalResourceId === 'WorkerInstanceProfile' && resource.PhysicalResourceId) {
          return resource.PhysicalResourceId;
        }
      }
    }
  } catch (error) {
    if (error.name === 'ValidationError') return undefined;
    throw error;
  }
  return undefined;
}

/**
 * Whether an instance is a worker of this deployment: the managed-by tag with its value, and its worker instance
 * profile (the ARN's last segment, whatever its path). Either alone is not enough.
 */
function isOwnedWorker(instance, { managedBy, profile }) {
  const tagged = (instance.Tags ?? []).some(
    (tag) => tag.Key === 'worker-fleet:managed-by' && tag.Value === managedBy,
  );
  const arn = instance.IamInstanceProfile?.Arn ?? '';
  return tagged && arn.split('/').at(-1) === profile;
}

/** The ids of the deployment's workers that are, or may become, running. */
async function liveWorkers(ec2, owned) {
  const ids = [];
  for await (const page of paginateDescribeInstances(
    { client: ec2 },
    {
      Filters: [
        { Name: 'tag:worker-fleet:managed-by', Values: [owned.managedBy] },
        { Name: 'instance-state-name', Values: LIVE_STATES },
      ],
    },
  )) {
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (isOwnedWorker(instance, owned) && instance.InstanceId) ids.push(instance.InstanceId);
      }
    }
  }
  return ids;
}

/**
 * Terminates the deployment's live workers and looks again until EC2 lists none of them as live: the ids
 * terminated. A worker still live after WAIT_MS fails the remove, naming it (running remove again tries again).
 */
async function terminateWorkers(ec2, owned) {
  const terminated = new Set();
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const live = await liveWorkers(ec2, owned);
    if (live.length === 0) return [...terminated];
    if (Date.now() > deadline) {
      throw new Error(`workers still live after termination: ${live.join(' ')}; run remove again`);
    }
    for (let i = 0; i < live.length; i += 1000) {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: live.slice(i, i + 1000) }));
    }
    for (const id of live) terminated.add(id);
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  }
}

module.exports = TerminateWorkersOnRemove;
module.exports.isOwnedWorker = isOwnedWorker;
module.exports.keepWorkers = keepWorkers;
