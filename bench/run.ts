/**
 * `npm run bench`: every benchmark against the local emulator; figures (median and spread over repeated runs where
 * a run is cheap, with the machine described) written to bench/results.md and bench/results.json.
 */
import '../local/text-modules';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Emulator } from '../local/emulator';
import { logger } from '../src/logger';
import { type AttributionBench, benchAttribution } from './access-attribution';
import { type AccessLogBench, benchAccessLogs, OLD_SPACE_CAP_MB } from './access-logs';
import { benchColdStart, type ColdStart } from './cold-start';
import { costSection, functionCosts } from './cost';
import { benchReaction, type ReactionBench } from './reaction';
import { benchScale, type ScaleRun } from './scale';
import { benchWave, type WaveRun } from './wave';

// One line per worker per run is the product working; in a benchmark it is noise.
logger.setLogLevel('SILENT');

function machine() {
  const cpu = cpus()[0];
  return {
    cpu: `${cpus().length} × ${cpu?.model ?? 'unknown'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
  };
}

function scaleTable(runs: readonly ScaleRun[]): string {
  const rows = runs.map(
    (run) =>
      `| ${run.workers.toLocaleString('en')} | ${run.step} | ${run.calls} | ${run.lowerBound} | ${run.wallSeconds.toFixed(2)} | ${run.cpuSeconds.toFixed(2)} | ${run.describeCpuSeconds.toFixed(2)} | ${Object.entries(
        run.byCall,
      )
        .map(([call, n]) => `${call} ${n}`)
        .join(', ')} |`,
  );
  return [
    '| workers | run | AWS calls | lower bound | wall s | CPU s | of which in DescribeInstances | calls |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}

const range = (spread: { median: number; min: number; max: number }, digits: number) =>
  `${spread.median.toFixed(digits)} (${spread.min.toFixed(digits)}–${spread.max.toFixed(digits)})`;

const kb = (bytes: number | undefined) => (bytes === undefined ? '' : (bytes / 1024).toFixed(0));

function coldStartTable(results: readonly ColdStart[]): string {
  const rows = results.map((r) => {
    const ready = r.ready ?? { ...r };
    return `| ${r.name} | ${range(ready.wallSeconds, 3)} | ${ready.timeRatio.toFixed(2)}× | ${range(ready.peakMemoryMB, 0)} | ${ready.memoryRatio.toFixed(2)}× | ${
      r.ready === undefined ? '' : `${range(r.wallSeconds, 3)} (${r.timeRatio.toFixed(2)}×)`
    } | ${kb(r.bundleBytes)} | ${kb(r.chunksBytes)} | ${kb(r.zipBytes)} |`;
  });
  return [
    '| function | ready for the first event: wall s, median (min–max) | time vs empty | ready: peak MB, median (min–max) | memory vs empty | load (handler module alone): wall s (vs empty) | entry KB | all chunks KB | zip KB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

/** Goal per function (all four use EC2: 2.0×, ready for the first event), met or by how much, and what limits it. */
function coldStartVerdict(results: readonly ColdStart[]): string[] {
  const goal = 2.0;
  const functions = results.filter((r) => r.zipBytes !== undefined);
  const lines = functions.map((r) => {
    const ready = r.ready ?? r;
    const worst = Math.max(ready.timeRatio, ready.memoryRatio);
    return `- ${r.name}: ready ${ready.timeRatio.toFixed(2)}× in time, ${ready.memoryRatio.toFixed(2)}× in memory, against ${goal.toFixed(1)}×: ${
      worst <= goal ? 'met' : `missed by ${(worst - goal).toFixed(2)}×`
    }.`;
  });
  return [
    ...lines,
    '',
    'Ready for the first event is what a cold first invocation pays before it handles its event: the handler module',
    'with the configuration parsed and its clients and schemas built (at init, once per container, as provisioned',
    'concurrency expects), and for the spot handler its second phase too (src/handlers/spot-interruption-ec2-phase.ts:',
    "the core and the EC2, SSM and EventBridge clients, imported once a warning's notification is out; see the",
    'reaction section). Only the spot handler defers anything: the other three load everything at init. What stands',
    "between 'ready' and an empty process: the EC2 client's API definitions, about 850 KB in any bundle that imports",
    'it since SDK 3.930 (aws-sdk-js-v3 issue 7607), are most of it; nothing in this project can shrink them short of',
    'hand-written EC2 calls. Next: the other clients, zod and the fleet schemas built at init.',
  ];
}

interface Results {
  machine: ReturnType<typeof machine>;
  coldStart?: ColdStart[];
  scale?: ScaleRun[];
  accessLogs?: AccessLogBench;
  reaction?: ReactionBench;
  wave?: WaveRun[];
  attribution?: AttributionBench;
  /** How long each section took in the run that measured it, in seconds. */
  sectionSeconds?: Partial<Record<Section, number>>;
}

const SECTIONS = ['cold-start', 'reaction', 'wave', 'scale', 'access-logs', 'attribution'] as const;
type Section = (typeof SECTIONS)[number];

/** The whole run's time, from each section's last measured duration, against the goal of a few minutes. */
function runTime(seconds: Partial<Record<Section, number>> | undefined): string[] {
  if (seconds === undefined) return [];
  const minutes = (value: number) => `${(value / 60).toFixed(1)} min`;
  const total = Object.values(seconds).reduce((sum, value) => sum + value, 0);
  const bySection = SECTIONS.filter((section) => seconds[section] !== undefined)
    .map((section) => `${section} ${minutes(seconds[section] ?? 0)}`)
    .join(', ');
  const verdict = total <= 300 ? 'met' : 'missed';
  return [
    `Run time: ${minutes(total)} on this host (${bySection}) against the goal of a few minutes (#9), taken as at most five: ${verdict}.`,
    'Most of it is the emulator: creating, describing and terminating 10,000 instances, and writing their',
    "heartbeats, one request each. The benchmarks' emulator (local/moto_server_large_fleets.py) is moto with its",
    'per-instance scans replaced by lookups, its response rendering sped up and connections kept alive: the same',
    'answers, several times faster (the run took 9 minutes on moto with only its tag lookups indexed). EC2 answers',
    'such a describe in well under a second. `-- --quick` (scale at 1,000 workers only) saves about two minutes.',
    '',
  ];
}

/** The scale goals (#9): calls at the lower bound, CPU under 2.5 s at 10,000 workers; met or why not. */
function scaleVerdict(runs: readonly ScaleRun[]): string[] {
  const callsMet = runs.every((run) => run.calls <= run.lowerBound);
  const large = runs.filter((run) => run.workers === 10_000);
  const worstCpu = Math.max(0, ...large.map((run) => run.cpuSeconds));
  const worst = large.find((run) => run.cpuSeconds === worstCpu);
  const ours = (run: ScaleRun) => run.cpuSeconds - run.describeCpuSeconds;
  const worstOurs = Math.max(0, ...large.map(ours));
  return [
    `- AWS calls at or under the lower bound in every run: ${callsMet ? 'met' : 'missed'}. Retries are pinned for`,
    '  every client (`standard` mode, 3 attempts: src/aws/clients.ts); tags go on at launch (zero CreateTags after).',
    ...(large.length === 0 || worst === undefined
      ? []
      : [
          `- CPU at 10,000 workers: ${worstCpu.toFixed(2)} s at worst against 2.5 s: ${
            worstCpu < 2.5 ? 'met' : `missed by ${(worstCpu - 2.5).toFixed(2)} s`
          }.${
            worstCpu < 2.5
              ? ''
              : ` Why: ${worst.describeCpuSeconds.toFixed(2)} s of it is spent while DescribeInstances calls are under way, mostly the SDK receiving and decoding 10,000 instance descriptions (the issue's figure, 0.2 s per 1,000-instance page, was measured on a faster host: here it is ${(worst.describeCpuSeconds / 10).toFixed(2)} s); the other ${worstOurs.toFixed(2)} s at most are the other calls (TerminateInstances, CreateTags, ListObjectsV2 pages) and garbage collection: in a CPU profile of a 2,000-worker run, worker-fleet's own code is under 1% of the process's CPU, the SDK's XML parser (@aws-sdk/xml-builder) and deserializer (@smithy/core) about a third. What would close it: count the fleet from the worker registry (ListObjectsV2 keys in the state bucket, a few bytes per worker) instead of describing every instance, and describe only the workers a run acts on; the registry would then have to learn of every termination, which it does not yet.`
          }`,
        ]),
    '',
  ];
}

function attributionSection(bench: AttributionBench): string[] {
  return [
    '## Attribution: EC2 calls a fast-writing worker costs',
    '',
    `${bench.events.toLocaleString('en')} object events from ${bench.workers} workers over ${bench.seconds} seconds, one logS3Access`,
    'invocation each, attributed as the function attributes them (bench/access-attribution.ts). A worker decides how',
    "many objects it writes, so each object's event must not cost an EC2 call (#27).",
    '',
    '| lookups | DescribeInstances per 1,000 events |',
    '| --- | ---: |',
    `| kept a minute by the container (WorkerLookups, what the function does) | ${bench.describesKept} |`,
    `| kept by none (every event asks EC2, as before #27) | ${bench.describesUnkept} |`,
    '',
    'Bound: one call per distinct worker (or address) per minute per container, whatever the objects written.',
    '',
  ];
}

function waveSection(runs: readonly WaveRun[]): string[] {
  const rows = runs.map(
    (run) =>
      `| ${run.fleets} × ${run.warningsPerFleet.toLocaleString('en')} | ${run.secondsToLastNotification.toFixed(1)} | ${run.secondsToLastReplacement.toFixed(1)} | ${run.replacements} | ${run.replacementLaunches ?? ''} | ${run.failedDeliveries} | ${run.awsCallsPerWarning.toFixed(1)} | ${Object.entries(
        run.callsPerWarning,
      )
        .map(([call, n]) => `${call} ${n}`)
        .join(', ')} |`,
  );
  const verdicts = runs.map((run) => {
    const warnings = run.fleets * run.warningsPerFleet;
    const deadline = run.secondsToLastReplacement < 120 ? 'met' : 'missed';
    const failures = run.failedDeliveries === 0 ? 'none failed' : `${run.failedDeliveries} failed`;
    return `- ${run.fleets} × ${run.warningsPerFleet}: every replacement requested before the two-minute deadline: ${deadline} (${run.secondsToLastReplacement.toFixed(1)} s for ${warnings} warnings); deliveries: ${failures}.`;
  });
  return [
    '## A wave of interruptions',
    '',
    'Every worker of the fleet(s) warned at the same moment, each warning delivered by a container of its own (its',
    "own clients), through the interruption handler's core against the benchmarks' emulator: time from the wave to",
    "the last warning's notification and to the last replacement's RunInstances answer, deliveries that failed, and",
    'AWS calls per warning (the notice path, the marking, the replacement fact, the lease and its hand-off, and the',
    "holder's passes shared among the warnings). Goals (#25): at 1,000, every replacement requested before its",
    "warning's two-minute deadline; at 100, no failed delivery.",
    '',
    '| wave | last notification s | last replacement s | replacements | RunInstances calls | failed deliveries | AWS calls per warning | per warning |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
    ...verdicts,
    '',
    'What limits it here: the emulator, on the 2 cores this machine has for every container and for moto. moto',
    'decides DynamoDB conditions by checking then writing, so the test proxy lets one write per item through at a',
    "time and runs each transaction alone (the benchmarks' emulator keeps only the items a transaction names for its",
    'rollback, where moto copies every table it touches: before that change a wave of 1,000 had not finished after 8',
    'minutes). At 1,000 the notifications themselves wait: a thousand deliveries queue their claims, registry reads',
    'and SNS publishes in one moto process, so the last notification comes late and every step after it too. These',
    "times are the emulator's, an upper bound: on AWS each notice is one round trip (claim and registry together,",
    'then SNS) and writes of distinct items go on side by side; the goal at 1,000 is missed here and not judged for',
    'AWS. Per warning, one holder per fleet launches the replacements: those of one pool together, 12 to a',
    'RunInstances call (the RunInstances column), at most 20 calls at once, each attempt recorded first and its',
    'answer after. On EC2 the RunInstances resource bucket (1,000 instances, 2 per second refilled) allows one wave',
    'of 1,000 (docs/reconciliation.md).',
    '',
    'Cold start with the state table: the spot handler builds the DynamoDB client in its first phase (claim and',
    "registry), where it built S3's; its entry grew from 60 KB to 213 KB. Same host, Node 24, d78c880 (before the",
    'table) and this tree run in turns, twice each, while other jobs loaded the machine: the spot handler ready for its',
    'first event in 0.236 and 0.185 s before, 0.303 and 0.364 s after; the empty process moved between 0.035 and',
    '0.090 s over the same runs. The figures lean to a miss of the "10% at most" goal of #25 (about 0.21 s to 0.33',
    's), but the load moved the baseline as much: it is not judged until the two run in turns on an idle machine.',
    '',
  ];
}

function reactionSection(bench: ReactionBench): string[] {
  return [
    '## Reaction to a spot interruption warning',
    '',
    `${bench.warnings} warnings for fleet workers, one after another, through the interruption handler's core against the`,
    'emulator (each: notify, mark, Worker Draining event, one replacement in another pool). Round trips are the',
    'longest chain of AWS calls that did not overlap, worst case over all warnings. The notification needs S3 and SNS',
    `only (the registry names the worker), so it does not wait for EC2: ${bench.coldStarts.runs} more warnings are each`,
    'handled by a new Node process that loads the packaged handler, as a cold Lambda does; its first EC2 request can',
    'only leave once the EC2 chunk has loaded. The chunk is loaded after the notification, not beside it: parsing and',
    'evaluating it holds the one thread, and loading it beside the first step delayed the notification by about',
    '0.13 s here and made the first EC2 request no sooner.',
    '',
    '| measure | figure | goal |',
    '| --- | ---: | --- |',
    `| handler time p50 | ${bench.p50Seconds.toFixed(3)} s | |`,
    `| handler time p99 | ${bench.p99Seconds.toFixed(3)} s | < 1 s: ${bench.p99Seconds < 1 ? 'met' : 'missed'} |`,
    `| sequential round trips before the notification | ${bench.roundTripsBeforeNotification} | ≤ 2: ${bench.roundTripsBeforeNotification <= 2 ? 'met' : 'missed'} |`,
    `| cold starts: notification published before the first EC2 request | ${bench.coldStarts.notifiedBeforeEc2} of ${bench.coldStarts.runs} | all: ${bench.coldStarts.notifiedBeforeEc2 === bench.coldStarts.runs ? 'met' : 'missed'} |`,
    `| cold starts: process start to the notification, median | ${bench.coldStarts.secondsToNotification.toFixed(3)} s | |`,
    `| cold starts: process start to the first EC2 request, median | ${bench.coldStarts.secondsToFirstEc2Request.toFixed(3)} s | |`,
    `| sequential round trips before the replacement is requested | ${bench.roundTripsBeforeReplacement} | |`,
    `| warning to the replacement's RunInstances, p50 | ${(bench.toReplacementP50Seconds ?? 0).toFixed(3)} s | |`,
    `| warning to the replacement's RunInstances, p99 | ${(bench.toReplacementP99Seconds ?? 0).toFixed(3)} s | < 1.5 s: ${(bench.toReplacementP99Seconds ?? Number.POSITIVE_INFINITY) < 1.5 ? 'met' : 'missed'} |`,
    '',
    "The replacement goes through the fleet's reconciliation (issue 17): the replacement fact is recorded, the fleet",
    "lease taken, the fleet's facts and its workers read (one DescribeInstances page per 1,000 workers), then",
    'RunInstances. The notification does not wait for any of it.',
    '',
  ];
}

function accessLogSection(bench: AccessLogBench): string[] {
  const verdict = (value: number, goal: number) =>
    value >= goal
      ? `met (goal ${goal} MB/s)`
      : `missed by ${(goal - value).toFixed(0)} MB/s (goal ${goal} MB/s)`;
  const mbps = (value: number) => value.toFixed(0);
  // The issue's machine: readline over such a log at about 260 MB/s. Its goals, scaled by this host's readline.
  const hostScale = bench.readlineLinesOnlyMBps / 260;
  const scaled = (goal: number) => Math.round(goal * hostScale);
  const memory = bench.streamingPeakRssMB;
  return [
    '## Access logs',
    '',
    `A generated ${bench.megabytes.toFixed(0)} MB server access log (${bench.lines.toLocaleString('en')} lines, a mix of`,
    'operations, encoded keys, quoted user agents and errors), parsed on one core. Each way runs in a Node process of',
    "its own (bench/access-log-pass.ts: no way inherits another's heap or compiled code), two passes, the second",
    'timed; five such runs of each way, round-robin, median.',
    '',
    '| way | MB/s | goal | goal scaled to this host |',
    '| --- | ---: | --- | --- |',
    `| parsed in memory | ${mbps(bench.inMemoryMBps)} | ${verdict(bench.inMemoryMBps, 800)} | ${verdict(bench.inMemoryMBps, scaled(800))} |`,
    `| parsed streaming from a file, 1 MB chunks | ${mbps(bench.streamingMBps)} | ${verdict(bench.streamingMBps, 300)} | ${verdict(bench.streamingMBps, scaled(300))} |`,
    `| streamed, parsed and made into access records (logS3Access's work per line, before logging) | ${mbps(bench.streamingRecordsMBps)} | | |`,
    `| the floor of this design: streamed, decoded and split into lines, no field read | ${mbps(bench.linesOnlyMBps)} | | |`,
    `| for comparison: \`readline\` over the same file, lines only | ${mbps(bench.readlineLinesOnlyMBps)} | | |`,
    '',
    `"Scaled to this host": the issue's goals were set where \`readline\` read such a log at about 260 MB/s; here it`,
    `read it at ${bench.readlineLinesOnlyMBps.toFixed(0)} MB/s, so the same goals are ${scaled(800)} and ${scaled(300)} MB/s on this host.`,
    '',
    `Memory: constant. A Node process whose old generation is capped at ${OLD_SPACE_CAP_MB} MB streams the 10 MB log and the 100 MB log alike (peak RSS ${memory.tenMB.toFixed(0)} and ${memory.hundredMB.toFixed(0)} MB, most of it Node itself and the young generation): the parser holds the unfinished line and one batch of at most 512 results, whatever the file's size.`,
    '',
    'How: a chunk is decoded once, copied as Latin-1 when it is pure ASCII (as logs nearly always are: keys are',
    'URL-encoded), about 3× faster than decoding UTF-8; lines and fields are found with `indexOf`; the 17 required',
    'fields are located and checked, but only the ten an access record needs become strings (the bucket owner,',
    'request URI, referer, user agent and the ten later fields are read when first asked for); keys are URL-decoded',
    'by a small decoder for ASCII escapes (`decodeURIComponent` took about 0.6 µs per key, five times longer); the',
    'time is decoded once per distinct second; results come out in batches of 512 instead of one await per line (a',
    "whole chunk's batch was slower: its entries outlived the young generation). The previous parser read 62 MB/s in",
    'memory and 57 MB/s streaming on this host.',
    '',
    `Why the goals are still missed: streaming, decoding and splitting the file alone reach ${mbps(bench.linesOnlyMBps)} MB/s here (the`,
    `floor row), below even the scaled in-memory goal (${scaled(800)} MB/s): a parser that makes a string of each line cannot`,
    'get far past that floor on this host. On top of it, locating 17 fields costs about 0.25 µs per line in `indexOf`',
    'calls alone (measured apart), and an entry with its ten strings about as much again. What would close more: a byte-level parser compiled to',
    'WebAssembly that hands out fields only when asked for, or logs made smaller at the source (S3 cannot filter them).',
    '',
  ];
}

async function main(): Promise<void> {
  const onlyArg = process.argv.find((arg) => arg.startsWith('--only='));
  // `--report` rewrites results.md from results.json, measuring nothing.
  const only = process.argv.includes('--report')
    ? []
    : onlyArg === undefined
      ? [...SECTIONS]
      : onlyArg.slice('--only='.length).split(',');
  for (const section of only) {
    if (!(SECTIONS as readonly string[]).includes(section))
      throw new Error(`unknown section ${section}; known: ${SECTIONS.join(', ')}`);
  }
  const sizes = process.argv.includes('--quick') ? [1000] : [1000, 10_000];
  const jsonFile = join(__dirname, 'results.json');
  const previous: Partial<Results> = existsSync(jsonFile) ? JSON.parse(readFileSync(jsonFile, 'utf8')) : {};
  // A report-only run measures nothing: the machine and date stay those of the last measuring run.
  const results: Results = {
    ...previous,
    machine: only.length === 0 && previous.machine !== undefined ? previous.machine : machine(),
  };

  const sectionSeconds: Partial<Record<Section, number>> = { ...previous.sectionSeconds };
  let sectionStarted = performance.now();
  const sectionDone = (section: Section) => {
    sectionSeconds[section] = (performance.now() - sectionStarted) / 1000;
    sectionStarted = performance.now();
  };
  if (only.includes('cold-start')) {
    console.log('cold start');
    sectionStarted = performance.now();
    results.coldStart = await benchColdStart(10, console.log);
    sectionDone('cold-start');
  }
  if (only.includes('reaction')) {
    console.log('reaction');
    sectionStarted = performance.now();
    const emulator = await Emulator.start({ largeFleets: true });
    try {
      results.reaction = await benchReaction(emulator, 200, console.log);
    } finally {
      await emulator.stop();
    }
    sectionDone('reaction');
  }
  if (only.includes('wave')) {
    sectionStarted = performance.now();
    const emulator = await Emulator.start({ largeFleets: true });
    const wave: WaveRun[] = [];
    try {
      // 1,000 at once runs only with --wave-1000: moto's TransactWriteItems deep-copies the whole table for each of its
      // actions, so at 1,000 workers the emulator had not finished after 8 minutes (see the section's text).
      const waves: (readonly [number, number])[] = [
        [1, 100],
        [2, 100],
        ...(process.argv.includes('--wave-1000') ? [[1, 1000] as const] : []),
      ];
      for (const [fleets, size] of waves) {
        console.log(`wave: ${fleets} × ${size} warnings`);
        wave.push(await benchWave(emulator, fleets, size, console.log));
      }
    } finally {
      await emulator.stop();
    }
    results.wave = wave;
    sectionDone('wave');
  }
  if (only.includes('attribution')) {
    console.log('attribution');
    sectionStarted = performance.now();
    const emulator = await Emulator.start({ largeFleets: true });
    try {
      results.attribution = await benchAttribution(emulator, console.log);
    } finally {
      await emulator.stop();
    }
    sectionDone('attribution');
  }
  if (only.includes('access-logs')) {
    console.log('access logs');
    sectionStarted = performance.now();
    results.accessLogs = await benchAccessLogs(console.log);
    sectionDone('access-logs');
  }
  if (only.includes('scale')) {
    sectionStarted = performance.now();
    const [emulator, storage] = await Promise.all([
      Emulator.start({ largeFleets: true }),
      Emulator.start({ largeFleets: true }),
    ]);
    const scale: ScaleRun[] = [];
    try {
      for (const workers of sizes) {
        console.log(`scale: ${workers} workers`);
        scale.push(...(await benchScale(emulator, storage, workers, console.log)));
      }
    } finally {
      await Promise.all([emulator.stop(), storage.stop()]);
    }
    results.scale = scale;
    sectionDone('scale');
  }
  results.sectionSeconds = sectionSeconds;
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(
    join(__dirname, 'results.md'),
    [
      '# worker-fleet benchmarks',
      '',
      `Machine: ${results.machine.cpu}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}; last run ${results.machine.date}.`,
      'Written by `npm run bench` (`-- --only=cold-start,reaction,scale,access-logs` reruns some sections, keeps the rest);',
      "the reaction and scale figures are against the benchmarks' emulator (moto, sped up: see Run time), which is",
      'still far slower than AWS, so wall times are upper bounds. CPU is this process only (the handler code, not the',
      'emulator).',
      '',
      ...runTime(results.sectionSeconds),
      ...(results.coldStart === undefined
        ? []
        : [
            '## Cold start',
            '',
            'Starting Node and importing each packaged handler bundle (ESM, minified, one per function, no node_modules),',
            'against an empty Node process in the same run; 10 runs each. Goals (#9): 1.5× for handlers without EC2,',
            '2.0× with EC2; every worker-fleet function uses EC2, so 2.0× applies to all four.',
            '',
            coldStartTable(results.coldStart),
            '',
            ...coldStartVerdict(results.coldStart),
            '',
          ]),
      ...(results.reaction === undefined ? [] : reactionSection(results.reaction)),
      ...(results.wave === undefined ? [] : waveSection(results.wave)),
      ...(results.attribution === undefined ? [] : attributionSection(results.attribution)),
      ...(results.coldStart === undefined ||
      results.reaction === undefined ||
      results.scale === undefined ||
      results.accessLogs === undefined
        ? []
        : costSection(
            functionCosts({
              coldStart: results.coldStart,
              reaction: results.reaction,
              scale: results.scale,
              accessLogs: results.accessLogs,
            }),
          )),
      ...(results.accessLogs === undefined ? [] : accessLogSection(results.accessLogs)),
      ...(results.scale === undefined
        ? []
        : [
            '## Scale: launcher capacity count and idle reaper',
            '',
            'Half the workers report idle through their heartbeat. Lower bound: ⌈N/1000⌉ DescribeInstances pages,',
            '⌈N/1000⌉ ListObjectsV2 pages, ⌈K/1000⌉ CreateTags or TerminateInstances for K idle workers, one notification;',
            "and the state bucket's own (issue 17): the launcher records its request (read, conditional write), reads, takes",
            "and gives back the fleet's lease, reads the facts and records the request applied (read, write): 8 calls; the",
            "reaper reads, takes and gives back its fleet's lease (3) and lowers the desired size after terminating (2).",
            'moto pages DescribeInstances by reservation, not by instance, so it answers a fleet seeded in reservations of',
            '1,000 in fewer pages than EC2 would: the count can sit below the EC2 lower bound here.',
            '',
            scaleTable(results.scale),
            '',
            ...scaleVerdict(results.scale),
          ]),
    ].join('\n'),
  );
  console.log('written: bench/results.md, bench/results.json');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
