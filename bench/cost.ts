/**
 * Cost: each function's memory size (from the packaged template) and what a million invocations cost at arm64 Lambda
 * prices, from the work measured in the other sections. A model, with its assumptions written beside it: Lambda's
 * CPU share grows with memory up to one vCPU at 1,769 MB, so CPU-bound work costs about the same GB-seconds at any
 * size below that, and only gets slower; waiting on AWS costs in proportion to the memory size.
 */
import type { AccessLogBench } from './access-logs';
import type { ColdStart } from './cold-start';
import type { ReactionBench } from './reaction';
import type { ScaleRun } from './scale';

/** AWS Lambda on arm64, us-east-1, first pricing tier (aws.amazon.com/lambda/pricing, November 2026). */
export const PRICE = { perGbSecond: 0.0000133334, perMillionRequests: 0.2 } as const;
/** Lambda gives one full vCPU at this memory size, and a proportional share below it. */
const FULL_VCPU_MB = 1769;
/** An in-region AWS API round trip, assumed (the emulator's are far slower and say nothing about AWS's). */
const ROUND_TRIP_SECONDS = 0.025;

export interface FunctionCost {
  readonly name: string;
  readonly memoryMB: number;
  /** What one invocation does, in words. */
  readonly invocation: string;
  readonly cpuSeconds: number;
  readonly roundTrips: number;
  readonly durationSeconds: number;
  /** A cold start's extra: being ready for the first event (the 'ready' figure), on this machine's CPU, scaled to the share. */
  readonly coldStartSeconds: number;
  readonly costPerMillion: number;
  /** Why this memory size. */
  readonly why: string;
}

const share = (memoryMB: number) => Math.min(1, memoryMB / FULL_VCPU_MB);

function cost(
  name: string,
  memoryMB: number,
  work: { invocation: string; cpuSeconds: number; roundTrips: number; coldCpuSeconds: number; why: string },
): FunctionCost {
  const durationSeconds = work.cpuSeconds / share(memoryMB) + work.roundTrips * ROUND_TRIP_SECONDS;
  return {
    name,
    memoryMB,
    invocation: work.invocation,
    cpuSeconds: work.cpuSeconds,
    roundTrips: work.roundTrips,
    durationSeconds,
    coldStartSeconds: work.coldCpuSeconds / share(memoryMB),
    costPerMillion: PRICE.perMillionRequests + 1e6 * (memoryMB / 1024) * durationSeconds * PRICE.perGbSecond,
    why: work.why,
  };
}

export interface CostInputs {
  readonly coldStart: readonly ColdStart[];
  readonly reaction: ReactionBench;
  readonly scale: readonly ScaleRun[];
  readonly accessLogs: AccessLogBench;
}

/** The cost of each function the cold-start section found in the packaged template. */
export function functionCosts(inputs: CostInputs): FunctionCost[] {
  const empty = inputs.coldStart.find((r) => r.zipBytes === undefined);
  const of = (name: string) => inputs.coldStart.find((r) => r.name === name);
  const cold = (name: string) =>
    Math.max(0, (of(name)?.ready?.wallSeconds.median ?? 0) - (empty?.wallSeconds.median ?? 0));
  const memory = (name: string) => of(name)?.memoryMB ?? 0;
  const run = (workers: number, step: string) =>
    inputs.scale.find((r) => r.workers === workers && r.step.startsWith(step));
  const launcherCount = run(1000, 'launcher capacity count');
  const reaper = run(1000, 'reaper run that marks');
  const reaperLarge = run(10_000, 'reaper run that marks');
  const logMB = 1;
  const costs = [
    cost('launchWorkers', memory('launchWorkers'), {
      invocation: 'a schedule tick that finds a 1,000-worker fleet full',
      cpuSeconds: launcherCount?.cpuSeconds ?? 0,
      roundTrips: 2,
      coldCpuSeconds: cold('launchWorkers'),
      why: 'waits on AWS more than it computes: the smallest size that keeps a cold start and a 1,000-worker page well under its 60 s timeout',
    }),
    cost('handleSpotInterruption', memory('handleSpotInterruption'), {
      invocation: 'a spot warning: notify, mark, replace',
      cpuSeconds: inputs.reaction.cpuSecondsP50,
      roundTrips: inputs.reaction.roundTripsBeforeReplacement + 2,
      coldCpuSeconds: cold('handleSpotInterruption'),
      why: 'latency inside the two-minute window: a cold start loads the EC2 chunk at this CPU share once the notification is out, and the replacement waits for it',
    }),
    cost('reapIdleWorkers', memory('reapIdleWorkers'), {
      invocation: 'a run over 1,000 workers that marks half of them',
      cpuSeconds: reaper?.cpuSeconds ?? 0,
      roundTrips: 4,
      coldCpuSeconds: cold('reapIdleWorkers'),
      why: `CPU-bound at scale (${reaperLarge === undefined ? 'about 3 s' : `${reaperLarge.cpuSeconds.toFixed(1)} s`} of CPU at 10,000 workers): costs the same GB-seconds at any size below 1,769 MB, and this one keeps that run near ${reaperLarge === undefined ? '5' : (reaperLarge.cpuSeconds / share(memory('reapIdleWorkers'))).toFixed(0)} s, far inside its 300 s timeout`,
    }),
    cost('logS3Access', memory('logS3Access'), {
      invocation: `a ${logMB} MB access log file parsed and attributed`,
      cpuSeconds: logMB / inputs.accessLogs.streamingMBps,
      roundTrips: 3,
      coldCpuSeconds: cold('logS3Access'),
      why: 'streams logs in constant memory; CPU-bound on large files, where the size only changes how long it takes',
    }),
  ];
  return costs.filter((c) => c.memoryMB > 0);
}

export function costSection(costs: readonly FunctionCost[]): string[] {
  const dollars = (value: number) => `$${value.toFixed(2)}`;
  return [
    '## Cost',
    '',
    `Per million invocations at arm64 Lambda prices (us-east-1: $${PRICE.perGbSecond} per GB-second, $${PRICE.perMillionRequests} per`,
    `million requests). Duration = the CPU time measured above, scaled to the memory size's CPU share (one vCPU at`,
    `${FULL_VCPU_MB.toLocaleString('en')} MB), plus ${ROUND_TRIP_SECONDS * 1000} ms per sequential AWS round trip (assumed: the emulator's say nothing about`,
    "AWS's). A cold start adds the 'ready' load time of the cold-start section, scaled the same way.",
    '',
    '| function | memory MB | one invocation | CPU s (measured) | round trips | duration s | cold start adds s | per million |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...costs.map(
      (c) =>
        `| ${c.name} | ${c.memoryMB} | ${c.invocation} | ${c.cpuSeconds.toFixed(3)} | ${c.roundTrips} | ${c.durationSeconds.toFixed(3)} | ${c.coldStartSeconds.toFixed(2)} | ${dollars(c.costPerMillion)} |`,
    ),
    '',
    'Why each size:',
    '',
    ...costs.map((c) => `- ${c.name} (${c.memoryMB} MB): ${c.why}.`),
    '',
  ];
}
