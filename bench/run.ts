/**
 * `npm run bench`: every benchmark against the local emulator; figures (median and spread over repeated runs where
 * a run is cheap, with the machine described) written to bench/results.md and bench/results.json.
 */
import '../local/quiet-sdk-node-warning';
import '../local/text-modules';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Emulator } from '../local/emulator';
import { logger } from '../src/logger';
import { benchScale, type ScaleRun } from './scale';

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
      `| ${run.workers.toLocaleString('en')} | ${run.step} | ${run.calls} | ${run.lowerBound} | ${run.wallSeconds.toFixed(2)} | ${run.cpuSeconds.toFixed(2)} | ${Object.entries(
        run.byCall,
      )
        .map(([call, n]) => `${call} ${n}`)
        .join(', ')} |`,
  );
  return [
    '| workers | run | AWS calls | lower bound | wall s | CPU s | calls |',
    '| ---: | --- | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const sizes = process.argv.includes('--quick') ? [1000] : [1000, 10_000];
  const emulator = await Emulator.start();
  const scale: ScaleRun[] = [];
  try {
    for (const workers of sizes) {
      console.log(`scale: ${workers} workers`);
      scale.push(...(await benchScale(emulator, workers, console.log)));
    }
  } finally {
    await emulator.stop();
  }
  const results = { machine: machine(), scale };
  const dir = __dirname;
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(
    join(dir, 'results.md'),
    [
      '# worker-fleet benchmarks',
      '',
      `Machine: ${results.machine.cpu}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}; run ${results.machine.date}.`,
      'Written by `npm run bench`; every figure is against the local emulator (moto), which is far slower than AWS,',
      'so wall times are upper bounds. CPU is this process only (the handler code, not the emulator).',
      '',
      '## Scale: launcher capacity count and idle reaper',
      '',
      'Half the workers report idle through their heartbeat. Lower bound: ⌈N/1000⌉ DescribeInstances pages,',
      '⌈N/1000⌉ ListObjectsV2 pages, ⌈K/1000⌉ CreateTags or TerminateInstances for K idle workers, one notification.',
      'moto pages DescribeInstances by reservation, not by instance, so it answers a fleet seeded in reservations of',
      '1,000 in fewer pages than EC2 would: the count can sit below the EC2 lower bound here.',
      '',
      scaleTable(scale),
      '',
    ].join('\n'),
  );
  console.log(`written: bench/results.md, bench/results.json`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
