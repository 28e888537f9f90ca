import type { Context } from 'aws-lambda';
import { lambdaContext } from '../../local/lambda-context';
import { InvalidEventError } from '../../src/errors';
import { deployedEnvironment } from './deployed-env';
import { useEmulator } from './use-emulator';

const emulator = useEmulator();
const context = lambdaContext('worker-fleet-test', 60_000, 'lambda-request-1');

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** The four handlers, loaded as Lambda loads them: once the functions' environment is set. */
async function loadHandlers(): Promise<Record<string, Handler>> {
  await deployedEnvironment(emulator());
  return {
    launchWorkers: (await import('../../src/handlers/launch-workers')).handler,
    reapIdleWorkers: (await import('../../src/handlers/reap-idle-workers')).handler,
    handleSpotInterruption: (await import('../../src/handlers/spot-interruption')).handler,
    logS3Access: (await import('../../src/handlers/log-s3-access')).handler,
  };
}

/** For each function, events that look like its triggers but are not. */
const MALFORMED: Readonly<Record<string, readonly unknown[]>> = {
  launchWorkers: [
    { fleet: 'batch', count: 'two' },
    { fleet: 'batch', count: 1, target: 2 },
    { 'detail-type': 'Launch Workers Requested', source: 'worker-fleet', id: 'e-1', detail: { count: 1 } },
  ],
  reapIdleWorkers: [
    { fleet: 'batch', dryRun: 'yes' },
    { 'detail-type': 'Scheduled Event', source: 'aws.s3' },
  ],
  handleSpotInterruption: [
    { 'detail-type': 'EC2 Spot Instance Interruption Warning', source: 'aws.ec2', id: 'e-1', detail: {} },
    { 'detail-type': 'Scheduled Event', source: 'aws.events', id: 'e-1' },
  ],
  logS3Access: [
    {
      'detail-type': 'Object Created',
      source: 'aws.s3',
      id: 'e-1',
      time: '2026-11-25T09:00:00Z',
      detail: {},
    },
    { 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', id: 'e-1', detail: {} },
  ],
};
const NOT_AN_EVENT: readonly unknown[] = [null, 'launch', 42, [], { 'detail-type': 'Something Else' }];

describe('a malformed event (docs/errors.md)', () => {
  let handlers: Record<string, Handler>;
  beforeAll(async () => {
    handlers = await loadHandlers();
  });

  it.each(Object.keys(MALFORMED))(
    'is rejected by %s with an InvalidEventError before any AWS call',
    async (name) => {
      const handler = handlers[name];
      if (handler === undefined) throw new Error(`no handler ${name}`);
      emulator().requests.length = 0;

      for (const event of [...(MALFORMED[name] ?? []), ...NOT_AN_EVENT]) {
        await expect(handler(event, context)).rejects.toThrow(InvalidEventError);
      }
      expect(emulator().requests).toEqual([]);
    },
  );
});
