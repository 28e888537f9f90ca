import { PutObjectCommand } from '@aws-sdk/client-s3';
import { launchWorkers } from '../../src/fleet/launch-workers';
import { reapIdleWorkers } from '../../src/fleet/reap-idle-workers';
import { logger } from '../../src/logger';
import { createFleetWorld, type FleetWorld } from './fleet-world';
import { useEmulator } from './use-emulator';

/**
 * Issue 17's fault matrix, the rows that need the emulator: one test per row, named by the row, grouped by what
 * fails ('Idle reaping', 'Events as AWS sends them').
 */

const emulator = useEmulator();
let world: FleetWorld;
let warnings: { message: string; fields: Record<string, unknown> }[];

beforeEach(async () => {
  world = await createFleetWorld(emulator());
  warnings = [];
  jest.spyOn(logger, 'warn').mockImplementation((message, ...extras) => {
    warnings.push({
      message: String(message),
      fields: Object.assign({}, ...extras.filter((extra) => typeof extra === 'object')),
    });
  });
});

afterEach(() => jest.restoreAllMocks());

/** The reaper's clock, `minutes` ahead of the emulator's (which stamps heartbeats with the real time). */
const minutesFromNow = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

describe('Idle reaping', () => {
  /** One on-demand fleet judged on heartbeats alone: no boot grace, terminated 10 minutes after the mark. */
  const spec = () => ({
    batch: {
      ami: world.imageId,
      instanceTypes: ['c7g.large'],
      subnets: [world.subnets[0]?.subnetId],
      market: 'on-demand',
      targetCapacity: 6,
      idle: { heartbeatTimeoutMinutes: 15, bootGraceMinutes: 0, terminateAfterMinutes: 10, minWorkers: 0 },
    },
  });

  async function launch(count: number): Promise<string[]> {
    const [result] = await launchWorkers(world.deps(spec()), {
      kind: 'direct',
      id: 'faults-setup',
      fleet: 'batch',
      target: count,
    });
    return (result?.launched ?? []).map((worker) => worker.instanceId);
  }

  /** The last heartbeat a worker's agent wrote: the status word alone, as the agent writes it. */
  const lastHeartbeat = (instanceId: string, status: string) =>
    world.s3.send(
      new PutObjectCommand({ Bucket: world.fleetBucket, Key: `heartbeats/${instanceId}`, Body: status }),
    );

  it('F13: a stale busy heartbeat is unknown; when most go stale at once the run marks and terminates nothing, and says why', async () => {
    const [wasBusy = '', wasIdle = '', ...others] = await launch(6);
    await lastHeartbeat(wasBusy, 'busy');
    await lastHeartbeat(wasIdle, 'idle');

    // 30 minutes on, 2 of 6 heartbeats are stale (the other 4 workers never wrote one): each is judged alone.
    const [few] = await reapIdleWorkers(world.reapDeps(spec(), minutesFromNow(30)));

    expect(few?.held).toBeUndefined();
    expect(few?.marked.map((worker) => worker.instanceId)).toEqual([wasIdle]);
    expect(few?.verdicts).toEqual({ idle: 1, unknown: 5 });

    // Then 5 of the 6 are stale (an S3, IAM or agent outage): the marked worker is due, and nothing happens.
    for (const instanceId of others.slice(0, 3)) await lastHeartbeat(instanceId, 'idle');
    const [most] = await reapIdleWorkers(world.reapDeps(spec(), minutesFromNow(45)));

    const held = 'most heartbeats stale: 5 of 6 workers past boot grace have no heartbeat newer than 15m';
    expect(most).toMatchObject({ held, marked: [], unmarked: [], terminated: [], failed: [] });
    expect(warnings).toContainEqual({
      message: 'reap held',
      fields: { fleet: 'batch', reason: held, stale: 5, judged: 6 },
    });
    expect(emulator().sent('TerminateInstances')).toHaveLength(0);
    const running = await world.instances({ tag: 'worker-fleet:fleet', value: 'batch' });
    expect(running.filter((instance) => instance.State?.Name === 'running')).toHaveLength(6);
  });
});
