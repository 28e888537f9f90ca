import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { drainQueue, ruleToQueue } from '../../local/queues';
import { runServerless } from '../../local/serverless-cli';
import { clientConfig, useEmulator } from './use-emulator';

const emulator = useEmulator();
const EVENTS = join(__dirname, '../../events');

interface Template {
  Resources: Record<
    string,
    { Type: string; Properties: { EventPattern?: unknown; Targets?: { Arn: unknown }[] } }
  >;
}

/** The EventBridge rules of the packaged stack, keyed by the function they invoke (and their position). */
function eventRules(template: Template): Map<string, unknown> {
  const rules = new Map<string, unknown>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Events::Rule' || resource.Properties.EventPattern === undefined) continue;
    const target = JSON.stringify(resource.Properties.Targets?.[0]?.Arn ?? '');
    const fn = /"(\w+)LambdaFunction"/.exec(target)?.[1] ?? 'unknown';
    const pattern = resource.Properties.EventPattern as { 'detail-type': string[] };
    rules.set(`${fn}: ${pattern['detail-type'].join(',')}`, pattern);
  }
  return rules;
}

/** Every rule, and the only sample events it must match. */
const EXPECTED: Record<string, string[]> = {
  'LaunchWorkers: Launch Workers Requested': ['launch-requested.json'],
  'LaunchWorkers: AWS Health Event': ['health-scheduled-change-nth.json', 'health-scheduled-change.json'],
  'HandleSpotInterruption: EC2 Spot Instance Interruption Warning': ['spot-interruption-warning.json'],
  'HandleSpotInterruption: EC2 Instance Rebalance Recommendation': ['rebalance-recommendation.json'],
  'HandleSpotInterruption: EC2 Instance State-change Notification': ['instance-state-change-terminated.json'],
  'LogS3Access: Object Created,Object Deleted': ['s3-object-created.json'],
  'LogS3Access: Object Created': ['s3-access-log-delivered.json'],
  'LogS3Access: AWS API Call via CloudTrail': ['s3-cloudtrail-get-object.json'],
};

/** The deployed buckets' names, as the samples give them. */
const BUCKETS: Record<string, string> = {
  FleetBucket: 'worker-fleet-dev-fleetbucket-1a2b3c4d5e6f',
  LogBucket: 'worker-fleet-dev-logbucket-6f5e4d3c2b1a',
};

/** A packaged pattern with its bucket references resolved as CloudFormation would. */
function resolved(pattern: unknown): unknown {
  return JSON.parse(
    JSON.stringify(pattern).replace(/\{"Ref":"(\w+)"\}/g, (_, name: string) => {
      const bucket = BUCKETS[name];
      if (bucket === undefined) throw new Error(`pattern refers to ${name}`);
      return JSON.stringify(bucket);
    }),
  );
}

interface Sample {
  readonly name: string;
  readonly event: { source: string; 'detail-type': string; detail: Record<string, unknown>; time: string };
}

function samples(): Sample[] {
  const loaded = readdirSync(EVENTS)
    .filter((name) => name.endsWith('.json'))
    .map((name) => ({
      name,
      event: JSON.parse(readFileSync(join(EVENTS, name), 'utf8')) as Sample['event'],
    }))
    // Direct-invocation payloads (no detail-type) never travel through EventBridge.
    .filter((sample) => 'detail-type' in sample.event);
  const terminated = loaded.find((sample) => sample.name === 'instance-state-change-terminated.json');
  if (terminated === undefined) throw new Error('the state-change sample is missing');
  // A state the handler ignores: no rule may deliver it.
  const running = { ...terminated.event, detail: { ...terminated.event.detail, state: 'running' } };
  const created = loaded.find((sample) => sample.name === 's3-object-created.json');
  const logDelivered = loaded.find((sample) => sample.name === 's3-access-log-delivered.json');
  if (created === undefined || logDelivered === undefined) throw new Error('an S3 sample is missing');
  const health = loaded.find((sample) => sample.name === 'health-scheduled-change.json');
  if (health === undefined) throw new Error('the Health sample is missing');
  // An EC2 issue and another service's scheduled change: no rule may deliver them.
  const issue = { ...health.event, detail: { ...health.event.detail, eventTypeCategory: 'issue' } };
  const rds = { ...health.event, detail: { ...health.event.detail, service: 'RDS' } };
  // The state bucket's access logs, and objects of a bucket that is not the fleet's: no rule may deliver them.
  const stateLog = {
    ...logDelivered.event,
    detail: { ...logDelivered.event.detail, object: { key: 'state/2026-11-25-10-05-12-0123456789ABCDEF' } },
  };
  const elsewhere = {
    ...created.event,
    detail: { ...created.event.detail, bucket: { name: 'someone-else' } },
  };
  return [
    ...loaded,
    { name: 'instance-state-change-running', event: running },
    { name: 's3-state-access-log', event: stateLog },
    { name: 's3-object-created-elsewhere', event: elsewhere },
    { name: 'health-ec2-issue', event: issue },
    { name: 'health-rds-scheduled-change', event: rds },
  ];
}

/**
 * Routes every sample through the emulator's EventBridge (its own pattern matching): each packaged rule is put on
 * the bus with a queue of its own as target, every sample event is put once, and each queue must hold exactly the
 * samples its rule is for. (The emulator's TestEventPattern is not implemented, so the routing itself is used.)
 */
describe('the packaged EventBridge rules', () => {
  let rules: Map<string, unknown>;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-package-'));
    const run = await runServerless(emulator(), ['package', '--stage', 'test', '--package', dir]);
    if (run.code !== 0) throw new Error(`serverless package failed:\n${run.output}`);
    rules = eventRules(
      JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')),
    );
  });

  it('are exactly the rules the handlers expect', () => {
    expect([...rules.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('deliver each sample event to its rule and to no other', async () => {
    const settings = clientConfig(emulator());
    const events = new EventBridgeClient(settings);
    const sqs = new SQSClient(settings);
    const queues = new Map<string, string>();
    for (const [index, [rule, pattern]] of [...rules].entries()) {
      const queue = await ruleToQueue(events, sqs, `rule-${index}`, resolved(pattern));
      queues.set(rule, queue.url);
    }
    const all = samples();
    expect(all.length).toBe(16);

    for (const { event } of all) {
      const put = await events.send(
        new PutEventsCommand({
          Entries: [
            { Source: event.source, DetailType: event['detail-type'], Detail: JSON.stringify(event.detail) },
          ],
        }),
      );
      expect(put.FailedEntryCount).toBe(0);
    }

    expect([...queues.keys()].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [rule, url] of queues) {
      const delivered = (await drainQueue(sqs, url)).map((body) => {
        const event = JSON.parse(body) as Sample['event'];
        return all.find(
          (sample) =>
            sample.event['detail-type'] === event['detail-type'] &&
            JSON.stringify(sample.event.detail) === JSON.stringify(event.detail),
        )?.name;
      });
      expect({ rule, delivered: delivered.sort() }).toEqual({ rule, delivered: EXPECTED[rule] });
    }
  });
});
