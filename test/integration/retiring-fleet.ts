import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Emulator } from '../../local/emulator';
import { reapIdleWorkers } from '../../src/fleet/reap-idle-workers';
import { heartbeatKey } from '../../src/model/heartbeat';
import { TAG } from '../../src/model/tags';
import { AgentProcess, eventually } from './agent-process';
import { batchFleets, launchBatch } from './batch-fleet';
import { FakeImds } from './fake-imds';
import type { FleetWorld } from './fleet-world';

/**
 * A fleet whose workers retire through the graceful path (#28), with what its tests need: real agents against a
 * fake metadata service that serves each instance's tags as the emulator's EC2 has them (so the reaper's drain tag
 * reaches the agent, as on an instance launched with InstanceMetadataTags), a drain hook that counts its runs, and
 * the reaper run as its schedule would until a worker is terminated. `stop()` ends every agent it started.
 */
export function retiringFleet(world: FleetWorld, emulator: () => Emulator) {
  const dir = mkdtempSync(join(tmpdir(), 'worker-fleet-retirement-'));
  const agents: AgentProcess[] = [];
  const imdsServers: FakeImds[] = [];

  const fleets = (overrides: Record<string, unknown> = {}, idle: Record<string, unknown> = {}) =>
    batchFleets(world, { targetCapacity: 2, drainGraceMinutes: 10 }, overrides, idle);

  const launch = (spec: ReturnType<typeof fleets>, target: number, id = 'setup') =>
    launchBatch(world, spec, target, id);

  async function tagsOf(instanceId: string): Promise<Record<string, string>> {
    const [instance] = (await world.instances()).filter((candidate) => candidate.InstanceId === instanceId);
    return Object.fromEntries((instance?.Tags ?? []).map(({ Key, Value }) => [Key ?? '', Value ?? '']));
  }

  async function stateOf(instanceId: string) {
    return (await world.instances()).find((instance) => instance.InstanceId === instanceId)?.State?.Name;
  }

  const hookFile = (instanceId: string) => join(dir, `drained-${instanceId}`);
  /** How many times a worker's drain hook ran (one line each). */
  const hookRuns = (instanceId: string) =>
    existsSync(hookFile(instanceId))
      ? readFileSync(hookFile(instanceId), 'utf8').split('\n').filter(Boolean).length
      : 0;

  /**
   * Starts the agent of each worker: its busy file says `status`, its drain hook appends a line to its own file, and
   * its metadata service serves the worker's tags as EC2 has them. Waits until every one has written a heartbeat.
   */
  async function startAgents(instanceIds: readonly string[], status = 'idle', drainCommand = true) {
    for (const instanceId of instanceIds) {
      const imds = await FakeImds.start(instanceId);
      imds.tagSource = () => tagsOf(instanceId);
      imdsServers.push(imds);
      writeFileSync(join(dir, `status-${instanceId}`), `${status}\n`);
      agents.push(
        AgentProcess.start({
          imds,
          emulator: emulator(),
          bucket: world.fleetBucket,
          roleId: world.workerRoleId,
          env: {
            WF_BUSY_FILE: join(dir, `status-${instanceId}`),
            ...(drainCommand ? { WF_DRAIN_COMMAND: `sleep 1; echo ran >> ${hookFile(instanceId)}` } : {}),
            WF_PLANNED_DRAIN_TIMEOUT_SECONDS: '30',
          },
        }),
      );
    }
    for (const instanceId of instanceIds) {
      await eventually(
        () => heartbeatOf(instanceId),
        (body) => body === status,
      );
    }
  }

  /** A worker's heartbeat body as its agent wrote it; undefined before the first. */
  async function heartbeatOf(instanceId: string): Promise<string | undefined> {
    try {
      const object = await world.s3.send(
        new GetObjectCommand({
          Bucket: world.fleetBucket,
          Key: heartbeatKey(world.workerRoleId, instanceId),
        }),
      );
      return await object.Body?.transformToString();
    } catch {
      return undefined;
    }
  }

  /** Writes a heartbeat as the agent does: the status word alone. */
  const writeHeartbeat = (instanceId: string, status: string) =>
    world.s3.send(
      new PutObjectCommand({
        Bucket: world.fleetBucket,
        Key: heartbeatKey(world.workerRoleId, instanceId),
        Body: status,
      }),
    );

  const markIdle = (instanceIds: readonly string[], at: Date) =>
    world.ec2.send(
      new CreateTagsCommand({
        Resources: [...instanceIds],
        Tags: [
          { Key: TAG.idleSince, Value: at.toISOString() },
          { Key: TAG.idleReason, Value: 'heartbeat' },
        ],
      }),
    );

  const minutesFromNow = (minutes: number) => () => new Date(Date.now() + minutes * 60_000);

  /**
   * Runs the reaper (retirements only unless `idle`) until the worker is terminated, as its schedule would, and
   * returns how many times its drain hook had run when the run that terminated it began.
   */
  async function reapUntilTerminated(
    spec: ReturnType<typeof fleets>,
    instanceId: string,
    now: () => Date,
    options: { idle?: boolean } = {},
  ): Promise<number> {
    let hookRunsBefore = -1;
    await eventually(
      async () => {
        const before = hookRuns(instanceId);
        const [run] = await reapIdleWorkers(world.reapDeps(spec, now), { retireOnly: options.idle !== true });
        if (run?.terminated.some((worker) => worker.instanceId === instanceId)) hookRunsBefore = before;
        return hookRunsBefore;
      },
      (runs) => runs >= 0,
      30,
    );
    return hookRunsBefore;
  }

  async function stop() {
    for (const agent of agents.splice(0)) agent.kill();
    for (const imds of imdsServers.splice(0)) await imds.stop();
  }

  return {
    fleets,
    launch,
    tagsOf,
    stateOf,
    hookRuns,
    startAgents,
    heartbeatOf,
    writeHeartbeat,
    markIdle,
    minutesFromNow,
    reapUntilTerminated,
    stop,
  };
}
